//! Training plumbing shared by whole-network trainers (CLIP's contrastive training, the toy
//! world's networks): PyTorch's Adam (optionally with AdamW's decoupled weight decay) applied
//! to every parameter of a module, and re-leafing loaded parameters so autodiff tracks them.

use std::collections::HashMap;

use burn::module::{ModuleMapper, Param, ParamId};
use burn::prelude::*;
use burn::tensor::Gradients;

use crate::edit::optim::{Adam, Moments};
use crate::error::{Error, Result};

/// Make every float parameter of `module` a fresh autodiff leaf that requires grad (a module
/// built from loaded or reshaped tensors is not one, and `backward` would skip it).
pub(crate) fn leaves<M: Module>(module: M) -> M {
    struct Leaves;
    impl ModuleMapper for Leaves {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let id = param.id;
            Param::initialized(id, Tensor::from_inner(param.val().inner()).require_grad())
        }
    }
    module.map(&mut Leaves)
}

/// PyTorch's Adam ([`crate::edit::optim::Adam`]) over every parameter of a module, with a
/// per-parameter learning-rate multiplier chosen by the parameter's path.
pub(crate) struct ModuleAdam {
    adam: Adam,
    moments: HashMap<String, Moments>,
    /// Restored state not yet placed on a device: (exp_avg, exp_avg_sq, step).
    pending: HashMap<String, (TensorData, TensorData, u64)>,
    lr_scale: Box<dyn Fn(&str) -> f64>,
    /// AdamW's decoupled weight decay `p ← p − lr·λ·p`, applied to parameters of rank ≥ 2
    /// (weights and embeddings; not biases, gains or scalars, as CLIP's training excludes them).
    pub weight_decay: f64,
    /// Parameters without a gradient are left unchanged instead of failing the step.
    pub allow_missing: bool,
}

impl ModuleAdam {
    pub(crate) fn new() -> Self {
        Self {
            adam: Adam::default(),
            moments: HashMap::new(),
            pending: HashMap::new(),
            lr_scale: Box::new(|_| 1.0),
            weight_decay: 0.0,
            allow_missing: false,
        }
    }

    /// β₁, β₂ and ε (PyTorch defaults 0.9, 0.999, 1e-8).
    pub(crate) fn with_betas(mut self, beta1: f64, beta2: f64, eps: f64) -> Self {
        self.adam.beta1 = beta1;
        self.adam.beta2 = beta2;
        self.adam.eps = eps;
        self
    }

    /// Learning-rate multiplier by parameter path (`"style.1.weight"` …).
    pub(crate) fn with_lr_scale(mut self, f: impl Fn(&str) -> f64 + 'static) -> Self {
        self.lr_scale = Box::new(f);
        self
    }

    /// One update of every parameter from `grads`.
    pub(crate) fn step<M: Module>(&mut self, module: M, grads: &Gradients, lr: f64) -> Result<M> {
        let mut update = Update {
            path: Vec::new(),
            grads,
            opt: self,
            lr,
            error: None,
        };
        let module = module.map(&mut update);
        match update.error {
            Some(e) => Err(e),
            None => Ok(module),
        }
    }
}

struct Update<'a> {
    path: Vec<String>,
    grads: &'a Gradients,
    opt: &'a mut ModuleAdam,
    lr: f64,
    error: Option<Error>,
}

impl ModuleMapper for Update<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.join(".");
        let (id, value): (ParamId, Tensor<D>) = (param.id, param.val());
        let Some(grad) = value.grad(self.grads) else {
            if !self.opt.allow_missing {
                self.error.get_or_insert(Error::InvalidArgument(format!(
                    "no gradient reached parameter {name}"
                )));
            }
            return Param::initialized(id, value);
        };
        let dims = value.dims();
        let n: usize = dims.iter().product();
        let (r, c) = if D > 1 {
            (dims[0], n / dims[0].max(1))
        } else {
            (1, n)
        };
        let mut p = value.inner().reshape([r, c]);
        let lr = self.lr * (self.opt.lr_scale)(&name);
        if self.opt.weight_decay > 0.0 && D >= 2 {
            p = p.clone() - p.mul_scalar(lr * self.opt.weight_decay);
        }
        let device = p.device();
        let pending = self.opt.pending.remove(&name);
        let state = self
            .opt
            .moments
            .entry(name)
            .or_insert_with(|| match pending {
                Some((m, v, step)) => Moments {
                    exp_avg: Tensor::<1>::from_data(m, &device).reshape([r, c]),
                    exp_avg_sq: Tensor::<1>::from_data(v, &device).reshape([r, c]),
                    slow_buffer: None,
                    step,
                },
                None => Moments::new(&p, false),
            });
        let new = self.opt.adam.step(p, grad.reshape([r, c]), state, lr);
        Param::initialized(id, Tensor::from_inner(new.reshape(dims)).require_grad())
    }
}

impl ModuleAdam {
    /// The optimiser state as `(prefix + name + ".exp_avg" | ".exp_avg_sq", data)` pairs.
    pub(crate) fn state(&self, prefix: &str) -> Vec<(String, TensorData)> {
        let mut names: Vec<&String> = self.moments.keys().collect();
        names.sort();
        names
            .into_iter()
            .flat_map(|name| {
                let m = &self.moments[name];
                [
                    (format!("{prefix}{name}.exp_avg"), m.exp_avg.to_data()),
                    (format!("{prefix}{name}.exp_avg_sq"), m.exp_avg_sq.to_data()),
                ]
            })
            .collect()
    }

    /// [`ModuleAdam::state`] plus each parameter's step count (`prefix + name + ".step"`,
    /// `[1]`), for trainers where parameters step at different times (layer selection).
    pub(crate) fn state_with_steps(&self, prefix: &str) -> Vec<(String, TensorData)> {
        let mut out = self.state(prefix);
        let mut names: Vec<&String> = self.moments.keys().collect();
        names.sort();
        for name in names {
            let step = self.moments[name].step as f32;
            out.push((
                format!("{prefix}{name}.step"),
                TensorData::new(vec![step], [1]),
            ));
        }
        out
    }

    /// Restore the state written by [`ModuleAdam::state`] with prefix `"adam."` into a file
    /// whose metadata holds `step`; returns that step.
    pub(crate) fn restore(&mut self, file: &crate::weights::TensorFile) -> Result<usize> {
        let step: usize = file
            .metadata()
            .get("step")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::MissingKey {
                key: "step (metadata)".into(),
                source_name: file.path().display().to_string(),
            })?;
        for key in file.keys() {
            let Some(name) = key
                .strip_prefix("adam.")
                .and_then(|k| k.strip_suffix(".exp_avg"))
            else {
                continue;
            };
            let read = |k: &str| -> Result<TensorData> {
                // Flattened: the moments are re-shaped to their parameter's rows × columns on
                // first use.
                let (v, _shape) = file.read_f32(k)?;
                let n = v.len();
                Ok(TensorData::new(v, [n]))
            };
            let exp_avg = read(key)?;
            let exp_avg_sq = read(&format!("adam.{name}.exp_avg_sq"))?;
            // A per-parameter step count when written ([`ModuleAdam::state_with_steps`]).
            let own_step = match file.contains(&format!("adam.{name}.step")) {
                true => file.read_f32(&format!("adam.{name}.step"))?.0[0] as u64,
                false => step as u64,
            };
            self.pending
                .insert(name.to_string(), (exp_avg, exp_avg_sq, own_step));
        }
        Ok(step)
    }
}
