//! Edit benchmark on the toy world: for a fixed prompt list and N seeds, per method, the share
//! of edits whose target the oracle reads among the faces that did not already show it
//! (success), the share that keep every attribute the prompt does not name (preservation),
//! and the time per edit.
//!
//! ```text
//! cargo run --release --example edit_benchmark -- --seeds 32
//! ```
//! The seeds are 1000.. (the semantic tests use others). Prints a Markdown table.

mod common;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::device::{DEVICE_NAMES, device_from_name};
use styleclip::toyfaces::score::ATTRIBUTE_NAMES;
use styleclip::toyfaces::{EditSettings, Method, ToyFaces};

/// The benchmark's prompts: the paper's three, and three more the captions phrase.
const PROMPTS: [&str; 6] = [
    "a smiling face",
    "purple hair",
    "mohawk hairstyle",
    "a face with sunglasses",
    "blonde hair",
    "a bald face",
];

#[derive(Parser, Debug)]
#[command(about = "Success, preservation and time of the three methods on the toy world")]
struct Args {
    /// Faces per prompt.
    #[arg(long, default_value_t = 32)]
    seeds: u64,
    /// Method settings (default: `EditSettings::default()`).
    #[command(flatten)]
    edit: common::EditFlags,
    /// Methods to run (1, 2, 3).
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    methods: Vec<usize>,
    /// Prompts (default: the benchmark's list).
    #[arg(long, value_delimiter = ';')]
    prompts: Vec<String>,
    /// A toy world directory other than the shipped one.
    #[arg(long)]
    world: Option<std::path::PathBuf>,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let world = match &args.world {
        Some(dir) => ToyFaces::load_from(dir, &device)?,
        None => ToyFaces::load(&device)?,
    };
    let settings = args.edit.over(EditSettings::default());
    let methods: Vec<Method> = args
        .methods
        .iter()
        .map(|&m| match m {
            1..=3 => Ok(Method::ALL[m - 1]),
            _ => Err(format!("no method {m}: 1, 2 or 3")),
        })
        .collect::<Result<_, _>>()?;
    let prompts: Vec<String> = if args.prompts.is_empty() {
        PROMPTS.iter().map(|p| p.to_string()).collect()
    } else {
        args.prompts.clone()
    };
    let seeds: Vec<u64> = (1000..1000 + args.seeds).collect();
    let pb = ProgressBar::new((prompts.len() * methods.len()) as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} {elapsed_precise}")?,
    );
    let mut rows = Vec::new();
    for prompt in &prompts {
        for &method in &methods {
            pb.set_message(format!("{} / {prompt}", method.name()));
            rows.push((
                prompt,
                method,
                world.rates(method, prompt, &seeds, &settings)?,
            ));
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    println!(
        "| prompt | method | success (of faces without the target) | preservation | time per \
         edit | changed |"
    );
    println!("|---|---|---|---|---|---|");
    for (prompt, method, r) in rows {
        match r {
            Some(r) => println!(
                "| {prompt} | {} | {:.0}% of {} | {:.0}% | {:.3} s | {} |",
                method.name(),
                100.0 * r.reached,
                r.n - r.already,
                100.0 * r.kept,
                r.seconds_per_edit,
                ATTRIBUTE_NAMES
                    .iter()
                    .zip(r.changed)
                    .filter(|(_, c)| *c > 0.0)
                    .map(|(a, c)| format!("{a} {:.0}%", 100.0 * c))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => println!("| {prompt} | {} | no shipped mapper | | | |", method.name()),
        }
    }
    println!(
        "\n{} seeds per prompt (1000..); method 1: {} steps, lr {}, λ_L2 {}; method 3: \
         α {}, β {}",
        args.seeds, settings.steps, settings.lr, settings.l2_lambda, settings.alpha, settings.beta
    );
    Ok(())
}
