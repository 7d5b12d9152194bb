//! Edit benchmark on the toy world: for a fixed prompt list and N seeds, per method, the share
//! of edits whose target the oracle reads (success), the share that keep every attribute the
//! prompt does not name (preservation), and the time per edit.
//!
//! ```text
//! cargo run --release --example edit_benchmark -- --seeds 32
//! ```
//! The seeds are 1000.. (the semantic tests use others). Prints a Markdown table.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use styleclip::device::{DEVICE_NAMES, device_from_name};
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
    /// Method 1: optimisation steps.
    #[arg(long, default_value_t = 40)]
    steps: usize,
    #[arg(long, default_value = "flex", help = format!("Device: {DEVICE_NAMES}"))]
    device: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let device = device_from_name(&args.device)?;
    let world = ToyFaces::load(&device)?;
    let settings = EditSettings {
        steps: args.steps,
        ..EditSettings::default()
    };
    let seeds: Vec<u64> = (1000..1000 + args.seeds).collect();
    let pb = ProgressBar::new((PROMPTS.len() * 3) as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} {msg} {elapsed_precise}",
    )?);
    let mut rows = Vec::new();
    for prompt in PROMPTS {
        for method in Method::ALL {
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
    println!("| prompt | method | success | preservation | time per edit |");
    println!("|---|---|---|---|---|");
    for (prompt, method, r) in rows {
        match r {
            Some(r) => println!(
                "| {prompt} | {} | {:.0}% | {:.0}% | {:.3} s |",
                method.name(),
                100.0 * r.reached,
                100.0 * r.kept,
                r.seconds_per_edit
            ),
            None => println!("| {prompt} | {} | no shipped mapper | | |", method.name()),
        }
    }
    println!(
        "\n{} seeds per prompt; method 1 with {} steps",
        args.seeds, args.steps
    );
    Ok(())
}
