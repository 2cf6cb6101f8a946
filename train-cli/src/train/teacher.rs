//! Distillation's teacher: the members of a finished run. Their averaged
//! predictions, softened by a temperature, on the very views a student
//! member sees become part of that member's target.

use std::path::Path;

use anyhow::{Context as _, Result, bail};
use burn::tensor::Tensor;
use burn::tensor::activation::softmax;
use model::classes::LesionClass;
use model::classifier::Classifier;
use model::preprocess::Preparation;

use crate::run_dir::RunDir;

pub struct Teacher {
    members: Vec<Classifier>,
    /// Share of the target that is the teacher's.
    pub weight: f32,
    pub temperature: f32,
}

/// What the student's run is, for the teacher to be checked against.
pub struct Student<'a> {
    pub split_sha256: &'a str,
    pub preparation: Preparation,
    pub classes: &'a [LesionClass],
}

impl Teacher {
    /// The finished run in `dir`, if it was trained on the student's split
    /// (else its members would have seen the student's validation or test
    /// photos), with the same classes and the same way of preparing photos.
    pub fn load(
        dir: &Path,
        student: &Student,
        weight: f32,
        temperature: f32,
        device: &burn::tensor::Device,
    ) -> Result<Self> {
        let run_dir = RunDir::new(dir);
        let run = run_dir
            .load()
            .with_context(|| format!("the teacher {} is not a run folder", dir.display()))?;
        let teacher = dir.display();
        if run.split_sha256 != student.split_sha256 {
            bail!(
                "the teacher {teacher} was trained on another split: its members may have seen \
                 this run's validation or test photos"
            );
        }
        let codes = |classes: &[LesionClass]| -> Vec<String> {
            classes.iter().map(|c| c.code.clone()).collect()
        };
        if codes(&run.classes) != codes(student.classes) {
            bail!("the teacher {teacher} has other classes than this run");
        }
        if run.preparation() != student.preparation {
            bail!(
                "the teacher {teacher} prepares photos otherwise ({:?}, this run {:?})",
                run.preparation(),
                student.preparation
            );
        }
        let members =
            run_dir.load_members(&run, device).with_context(|| format!("the teacher {teacher}"))?;
        Ok(Self { members, weight, temperature })
    }

    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// The members' mean softened probabilities for `input` `[batch, 3, h,
    /// w]`, row after row.
    pub fn soft_targets(&self, input: Tensor<4>) -> Result<Vec<f32>> {
        let mut sum: Option<Tensor<2>> = None;
        for member in &self.members {
            let p = softmax(member.forward(input.clone()) / self.temperature, 1);
            sum = Some(match sum {
                Some(s) => s + p,
                None => p,
            });
        }
        let sum = sum.context("internal: a teacher without members")?;
        crate::tensors::values(sum / self.members.len() as f32)
    }
}
