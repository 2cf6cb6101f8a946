//! SVG plots for the evaluation report, drawn with `plotters`. SVG keeps the
//! text as text, so class names in any script show as the viewer's fonts
//! draw them, and no font file is needed to make the plots.

mod confusion;
mod curves;
mod reliability;
mod robustness;
mod roc;

pub use robustness::{Point as RobustnessPoint, draw as robustness};

use std::path::{Path, PathBuf};

use anyhow::Result;
use plotters::prelude::*;

use crate::data::split::Part;
use crate::files::write_atomic;
use crate::run_dir::{RunDir, log};

/// Colours of successive series (Okabe and Ito's palette, readable with
/// colour-blindness), then repeated.
const SERIES: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(117, 112, 179),
];
const REFERENCE: RGBColor = RGBColor(140, 140, 140);
const FONT: &str = "sans-serif";

fn series(i: usize) -> RGBColor {
    SERIES[i % SERIES.len()]
}

/// The legend of `chart`'s labelled series at `position`.
fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(REFERENCE)
        .label_font((FONT, 14))
        .draw()?;
    Ok(())
}

/// Draws onto an SVG canvas of `size` and returns the document.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<()>,
) -> Result<String> {
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    Ok(text)
}

/// Where a report's plots go: its folder, as `<report stem>-<plot>.svg`, so
/// that two reports in one folder keep their own plots.
pub struct Plots {
    dir: PathBuf,
    stem: String,
}

impl Plots {
    pub fn beside(report: &Path) -> Self {
        let dir = report.parent().map(Path::to_path_buf).unwrap_or_default();
        let stem = report
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "evaluation".into());
        Self { dir, stem }
    }

    /// Writes `svg` as the plot `name`; returns the Markdown that shows it.
    fn write(&self, name: &str, alt: &str, svg: &str) -> Result<String> {
        let file = format!("{}-{name}.svg", self.stem);
        write_atomic(&self.dir.join(&file), svg.as_bytes())?;
        Ok(format!("![{alt}]({})", link(&file)))
    }

    pub fn confusion(
        &self,
        part: Part,
        confusion: &[Vec<usize>],
        codes: &[&str],
    ) -> Result<String> {
        let svg =
            confusion::draw(confusion, codes, &format!("Confusion matrix, {part} part, ensemble"))?;
        self.write(&format!("{part}-confusion"), &format!("Confusion matrix, {part}"), &svg)
    }

    pub fn roc(
        &self,
        part: Part,
        probs: &[Vec<f32>],
        labels: &[usize],
        codes: &[&str],
        malignant: &[bool],
    ) -> Result<String> {
        let svg = roc::draw(
            probs,
            labels,
            codes,
            malignant,
            &format!("ROC curves, {part} part, ensemble"),
        )?;
        self.write(&format!("{part}-roc"), &format!("ROC curves, {part}"), &svg)
    }

    pub fn reliability(&self, part: Part, probs: &[Vec<f32>], labels: &[usize]) -> Result<String> {
        let svg = reliability::draw(probs, labels, &format!("Reliability, {part} part, ensemble"))?;
        self.write(&format!("{part}-reliability"), &format!("Reliability diagram, {part}"), &svg)
    }

    /// Training curves of every member of the run, from their logs.
    pub fn training(&self, run: &RunDir, members: usize) -> Result<String> {
        let logs =
            (0..members).map(|m| log::read(&run.member(m).log())).collect::<Result<Vec<_>>>()?;
        self.write("training", "Training curves", &curves::draw(&logs, "Training curves")?)
    }
}

/// A file name as a Markdown link target: characters that would end or
/// split the target are percent-encoded.
pub fn link(file: &str) -> String {
    file.chars()
        .map(|c| match c {
            ' ' | '(' | ')' | '<' | '>' | '%' => format!("%{:02X}", c as u32),
            c => c.to_string(),
        })
        .collect()
}

/// The text of every `<text>` element of an SVG document, trimmed.
#[cfg(test)]
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            t.split_once('>')
                .map(|(_, rest)| rest.split("</text>").next().unwrap_or("").trim().to_string())
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
        let markdown =
            plots.confusion(Part::Test, &[vec![3, 1], vec![0, 2]], &["nv", "mélanome"]).unwrap();
        assert_eq!(markdown, "![Confusion matrix, test](my%20eval-test-confusion.svg)");
        let svg = std::fs::read_to_string(dir.join("my eval-test-confusion.svg")).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(
            texts(&svg).iter().any(|t| t == "mélanome"),
            "class names keep their letters: {svg}"
        );

        // Training curves from member logs; a missing log is an error naming it.
        let run = RunDir::new(&dir);
        for m in 0..2 {
            let member = run.member(m);
            std::fs::create_dir_all(&member.path).unwrap();
            let log = "stage,epoch,learning_rate,train_loss,val_loss,val_accuracy,val_balanced_accuracy,seconds\n\
                       head,1,1e-3,1.9,1.8,0.3,0.2,1.0\nhead,2,1e-3,1.4,1.5,0.4,0.35,1.0\nupper,1,3e-4,1.0,1.2,0.5,0.5,2.0\n";
            std::fs::write(member.log(), log).unwrap();
        }
        assert_eq!(plots.training(&run, 2).unwrap(), "![Training curves](my%20eval-training.svg)");
        let curves = std::fs::read_to_string(dir.join("my eval-training.svg")).unwrap();
        assert!(texts(&curves).iter().any(|t| t == "member 1"));
        let error = format!("{:#}", plots.training(&run, 3).unwrap_err());
        assert!(error.contains("member-2"), "{error}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
