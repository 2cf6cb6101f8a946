//! Classification metrics for the evaluation report, computed from
//! predicted probabilities and true labels.

use model::ensemble::argmax;
use serde::Serialize;

/// Per-class precision, recall, F1 and support.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClassMetrics {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
    /// One-vs-rest ROC AUC; `None` when the class is absent or alone.
    pub auc: Option<f64>,
}

/// Benign vs malignant, with malignant probability = sum over malignant classes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BinaryMetrics {
    pub sensitivity: f64,
    pub specificity: f64,
    pub auc: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Metrics {
    pub n: usize,
    pub accuracy: f64,
    pub balanced_accuracy: f64,
    pub macro_f1: f64,
    pub mcc: f64,
    pub mean_auc: f64,
    pub nll: f64,
    pub ece: f64,
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    pub malignant: Option<BinaryMetrics>,
}

/// Bins of the expected calibration error.
pub const ECE_BINS: usize = 15;

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// ROC AUC of `scores` for `positive`, by ranks with ties averaged
/// (the Mann-Whitney statistic). `None` unless both kinds are present.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let pos = positive.iter().filter(|&&p| p).count();
    let neg = positive.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += (i..=j).filter(|&k| positive[order[k]]).count() as f64 * average_rank;
        i = j + 1;
    }
    Some((rank_sum - (pos * (pos + 1)) as f64 / 2.0) / (pos as f64 * neg as f64))
}

/// ROC curve points (false positive rate, true positive rate), from the
/// strictest threshold to the loosest.
pub fn roc_curve(scores: &[f32], positive: &[bool]) -> Vec<(f64, f64)> {
    let pos = positive.iter().filter(|&&p| p).count().max(1) as f64;
    let neg = positive.iter().filter(|&&p| !p).count().max(1) as f64;
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut points = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0
        } else {
            fp += 1.0
        }
        if k + 1 == order.len() || scores[order[k + 1]] != scores[i] {
            points.push((fp / neg, tp / pos));
        }
    }
    points
}

/// Reliability bins: (mean confidence, accuracy, count) per equal-width bin of top-1 confidence.
pub fn reliability(probs: &[Vec<f32>], labels: &[usize], bins: usize) -> Vec<(f64, f64, usize)> {
    let mut sums = vec![(0.0, 0.0, 0usize); bins];
    for (p, &y) in probs.iter().zip(labels) {
        let top = argmax(p);
        let confidence = f64::from(p[top]);
        let bin = ((confidence * bins as f64) as usize).min(bins - 1);
        sums[bin].0 += confidence;
        sums[bin].1 += f64::from(u8::from(top == y));
        sums[bin].2 += 1;
    }
    sums.into_iter()
        .map(|(c, a, n)| if n == 0 { (0.0, 0.0, 0) } else { (c / n as f64, a / n as f64, n) })
        .collect()
}

/// Expected calibration error: count-weighted |accuracy - confidence| over bins.
pub fn ece(probs: &[Vec<f32>], labels: &[usize], bins: usize) -> f64 {
    let n = labels.len().max(1) as f64;
    reliability(probs, labels, bins).iter().map(|&(c, a, k)| k as f64 / n * (a - c).abs()).sum()
}

/// Multiclass Matthews correlation coefficient (Gorodkin's R_K).
pub fn mcc(confusion: &[Vec<usize>]) -> f64 {
    let k = confusion.len();
    let s: f64 = confusion.iter().flatten().sum::<usize>() as f64;
    let c: f64 = (0..k).map(|i| confusion[i][i]).sum::<usize>() as f64;
    let t: Vec<f64> = (0..k).map(|i| confusion[i].iter().sum::<usize>() as f64).collect();
    let p: Vec<f64> =
        (0..k).map(|j| confusion.iter().map(|row| row[j]).sum::<usize>() as f64).collect();
    let tp: f64 = t.iter().zip(&p).map(|(a, b)| a * b).sum();
    let denominator = ((s * s - p.iter().map(|x| x * x).sum::<f64>())
        * (s * s - t.iter().map(|x| x * x).sum::<f64>()))
    .sqrt();
    if denominator == 0.0 { 0.0 } else { (c * s - tp) / denominator }
}

/// All metrics for `probs` (rows sum to 1) against `labels`.
/// `malignant` flags classes; the binary block is omitted when none is flagged.
pub fn compute(probs: &[Vec<f32>], labels: &[usize], malignant: &[bool]) -> Metrics {
    let k = malignant.len();
    let n = labels.len();
    let predictions: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&y, &p) in labels.iter().zip(&predictions) {
        confusion[y][p] += 1;
    }
    let per_class: Vec<ClassMetrics> = (0..k)
        .map(|c| {
            let tp = confusion[c][c];
            let support: usize = confusion[c].iter().sum();
            let predicted: usize = confusion.iter().map(|row| row[c]).sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall == 0.0 {
                0.0
            } else {
                2.0 * precision * recall / (precision + recall)
            };
            let scores: Vec<f32> = probs.iter().map(|p| p[c]).collect();
            let positive: Vec<bool> = labels.iter().map(|&y| y == c).collect();
            ClassMetrics { precision, recall, f1, support, auc: roc_auc(&scores, &positive) }
        })
        .collect();
    let present: Vec<&ClassMetrics> = per_class.iter().filter(|m| m.support > 0).collect();
    let mean = |f: &dyn Fn(&ClassMetrics) -> f64| {
        present.iter().map(|m| f(m)).sum::<f64>() / present.len().max(1) as f64
    };
    let aucs: Vec<f64> = per_class.iter().filter_map(|m| m.auc).collect();
    let malignant_block = malignant.iter().any(|&m| m).then(|| {
        let scores: Vec<f32> = probs
            .iter()
            .map(|p| p.iter().zip(malignant).filter(|(_, m)| **m).map(|(v, _)| v).sum())
            .collect();
        let truth: Vec<bool> = labels.iter().map(|&y| malignant[y]).collect();
        let called: Vec<bool> = predictions.iter().map(|&p| malignant[p]).collect();
        let count = |t: bool, c: bool| {
            truth.iter().zip(&called).filter(|(a, b)| **a == t && **b == c).count()
        };
        BinaryMetrics {
            sensitivity: ratio(count(true, true), count(true, true) + count(true, false)),
            specificity: ratio(count(false, false), count(false, false) + count(false, true)),
            auc: roc_auc(&scores, &truth),
        }
    });
    Metrics {
        n,
        accuracy: ratio((0..k).map(|c| confusion[c][c]).sum(), n),
        balanced_accuracy: mean(&|m| m.recall),
        macro_f1: mean(&|m| m.f1),
        mcc: mcc(&confusion),
        mean_auc: aucs.iter().sum::<f64>() / aucs.len().max(1) as f64,
        nll: probs.iter().zip(labels).map(|(p, &y)| -f64::from(p[y].max(1e-12)).ln()).sum::<f64>()
            / n.max(1) as f64,
        ece: ece(probs, labels, ECE_BINS),
        per_class,
        confusion,
        malignant: malignant_block,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9, "{a} != {b}");
    }

    /// Six samples, three classes; worked out by hand:
    /// truth  0 0 0 1 1 2, predicted 0 0 1 1 2 2.
    fn example() -> (Vec<Vec<f32>>, Vec<usize>) {
        let probs = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.6, 0.3, 0.1],
            vec![0.3, 0.6, 0.1],
            vec![0.2, 0.7, 0.1],
            vec![0.1, 0.4, 0.5],
            vec![0.1, 0.2, 0.7],
        ];
        (probs, vec![0, 0, 0, 1, 1, 2])
    }

    #[test]
    fn metrics_match_hand_computed_values() {
        let (probs, labels) = example();
        let m = compute(&probs, &labels, &[false, false, true]);
        assert_eq!(m.confusion, vec![vec![2, 1, 0], vec![0, 1, 1], vec![0, 0, 1]]);
        close(m.accuracy, 4.0 / 6.0);
        // Recalls 2/3, 1/2, 1 -> mean 13/18.
        close(m.balanced_accuracy, 13.0 / 18.0);
        // Precisions 1, 1/2, 1/2; F1s 0.8, 0.5, 2/3.
        close(m.per_class[0].precision, 1.0);
        close(m.per_class[1].f1, 0.5);
        close(m.per_class[2].f1, 2.0 / 3.0);
        close(m.macro_f1, (0.8 + 0.5 + 2.0 / 3.0) / 3.0);
        // Gorodkin: c=4, s=6, t=(3,2,1), p=(2,2,2): (24-12)/sqrt((36-12)(36-14)).
        close(m.mcc, 12.0 / (24.0f64 * 22.0).sqrt());
        // Class 0 scores: positives .8 .6 .3 vs negatives .2 .1 .1 -> all pairs ordered: AUC 1.
        close(m.per_class[0].auc.unwrap(), 1.0);
        // Class 1 positives .7 .4 vs negatives .1 .3 .6 .2: pairs won 4+3 of 8.
        close(m.per_class[1].auc.unwrap(), 7.0 / 8.0);
        // NLL: mean of -ln(.8 .6 .3 .7 .4 .7).
        let nll =
            -[0.8f32, 0.6, 0.3, 0.7, 0.4, 0.7].iter().map(|&p| f64::from(p).ln()).sum::<f64>()
                / 6.0;
        close(m.nll, nll);
        // Class 2 malignant: sensitivity 1/1, specificity 4/5 (sample 5 called malignant).
        let b = m.malignant.unwrap();
        close(b.sensitivity, 1.0);
        close(b.specificity, 0.8);
        close(b.auc.unwrap(), 1.0);
    }

    #[test]
    fn ece_and_ties() {
        // Two samples at confidence .9 (one right), two at .6 (both right):
        // bins: |0.5-0.9|*2/4 + |1-0.6|*2/4 = 0.4.
        let probs = vec![vec![0.9f32, 0.1], vec![0.9, 0.1], vec![0.6, 0.4], vec![0.6, 0.4]];
        let ece = ece(&probs, &[0, 1, 0, 0], ECE_BINS);
        assert!((ece - 0.4).abs() < 1e-6, "{ece}");
        // All scores tied: AUC one half.
        close(roc_auc(&[0.5; 4], &[true, false, true, false]).unwrap(), 0.5);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
        let curve = roc_curve(&[0.9, 0.8, 0.3, 0.1], &[true, false, true, false]);
        assert_eq!(curve, vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]);
    }

    #[test]
    fn perfect_predictions_give_mcc_one() {
        let probs = vec![vec![1.0f32, 0.0], vec![0.0, 1.0]];
        close(compute(&probs, &[0, 1], &[false, true]).mcc, 1.0);
    }
}
