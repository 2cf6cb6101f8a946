//! PNG plots for the evaluation report, drawn with our own small raster
//! code: a plotting crate and font files would be much more than the few
//! lines, boxes and labels these need.

pub mod axes;
pub mod canvas;
pub mod confusion;
pub mod curves;
pub mod font;
pub mod legend;
pub mod reliability;
pub mod roc;
pub mod style;

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::data::split::Part;
use crate::files::write_atomic;
use crate::train::Run;
use canvas::Canvas;

/// Where a report's plots go: its folder, as `<report stem>-<plot>.png`, so
/// that two reports in one folder keep their own plots.
pub struct Plots {
    dir: PathBuf,
    stem: String,
}

impl Plots {
    pub fn beside(report: &Path) -> Self {
        let dir = report.parent().map(Path::to_path_buf).unwrap_or_default();
        let stem = report.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "evaluation".into());
        Self { dir, stem }
    }

    /// Writes `canvas` as the plot `name`; returns the Markdown that shows it.
    fn write(&self, name: &str, alt: &str, canvas: &Canvas) -> Result<String> {
        let file = format!("{}-{name}.png", self.stem);
        write_atomic(&self.dir.join(&file), &canvas.to_png()?)?;
        Ok(format!("![{alt}]({})", link(&file)))
    }

    pub fn confusion(&self, part: Part, confusion: &[Vec<usize>], codes: &[&str]) -> Result<String> {
        let canvas = confusion::draw(confusion, codes, &format!("Confusion matrix, {part} part, ensemble"));
        self.write(&format!("{part}-confusion"), &format!("Confusion matrix, {part}"), &canvas)
    }

    pub fn roc(&self, part: Part, probs: &[Vec<f32>], labels: &[usize], codes: &[&str], malignant: &[bool]) -> Result<String> {
        let canvas = roc::draw(probs, labels, codes, malignant, &format!("ROC curves, {part} part, ensemble"));
        self.write(&format!("{part}-roc"), &format!("ROC curves, {part}"), &canvas)
    }

    pub fn reliability(&self, part: Part, probs: &[Vec<f32>], labels: &[usize]) -> Result<String> {
        let canvas = reliability::draw(probs, labels, &format!("Reliability, {part} part, ensemble"));
        self.write(&format!("{part}-reliability"), &format!("Reliability diagram, {part}"), &canvas)
    }

    /// Training curves of every member of the run in `run_dir`, from their logs.
    pub fn training(&self, run_dir: &Path, members: usize) -> Result<String> {
        let logs = (0..members).map(|m| curves::read_log(&Run::member_dir(run_dir, m).join("log.csv"))).collect::<Result<Vec<_>>>()?;
        self.write("training", "Training curves", &curves::draw(&logs, "Training curves"))
    }
}

/// A file name as a Markdown link target: characters that would end or
/// split the target are percent-encoded.
fn link(file: &str) -> String {
    file.chars()
        .map(|c| match c {
            ' ' | '(' | ')' | '<' | '>' | '%' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_named_after_the_report_and_linked_relatively() {
        let dir = std::env::temp_dir().join(format!("dermlens-plots-{}", std::process::id()));
        let plots = Plots::beside(&dir.join("my eval.md"));
        let markdown = plots.confusion(Part::Test, &[vec![3, 1], vec![0, 2]], &["nv", "mel"]).unwrap();
        assert_eq!(markdown, "![Confusion matrix, test](my%20eval-test-confusion.png)");
        let bytes = std::fs::read(dir.join("my eval-test-confusion.png")).unwrap();
        assert!(image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).is_ok());

        // Training curves from member logs; a missing log is an error naming it.
        for m in 0..2 {
            let member = Run::member_dir(&dir, m);
            std::fs::create_dir_all(&member).unwrap();
            let log = "stage,epoch,learning_rate,train_loss,val_loss,val_accuracy,val_balanced_accuracy,seconds\n\
                       head,1,1e-3,1.9,1.8,0.3,0.2,1.0\nhead,2,1e-3,1.4,1.5,0.4,0.35,1.0\nupper,1,3e-4,1.0,1.2,0.5,0.5,2.0\n";
            std::fs::write(member.join("log.csv"), log).unwrap();
        }
        assert_eq!(plots.training(&dir, 2).unwrap(), "![Training curves](my%20eval-training.png)");
        assert!(dir.join("my eval-training.png").is_file());
        let error = format!("{:#}", plots.training(&dir, 3).unwrap_err());
        assert!(error.contains("member-2"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
