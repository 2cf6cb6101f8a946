"""Does age, sex and body site help? A measurement before building it.

    python benches/metadata.py SPLIT.csv HAM10000_metadata.csv PRED_DIR

PRED_DIR holds `dermlens predict` CSVs of a bundle on each part of the
split (pred-train.csv, pred-val.csv, pred-test.csv). A small fusion, a
multinomial logistic regression on the bundle's log-probabilities plus the
metadata (age scaled, its absence, sex, body site one-hot), is fitted with
class-balanced weights and an L2 penalty, either on the validation part
(stacking: the photos the members never trained on) or on the train part
(the members' own training photos), and scored once on the test part
against the image model alone. The referral threshold (the malignant
share: akiec + bcc + mel) is chosen on validation for 95% sensitivity in
both. Prints a Markdown table.
"""

import csv
import os
import sys

import numpy as np

CLASSES = ["akiec", "bcc", "bkl", "df", "mel", "nv", "vasc"]
MALIGNANT = [0, 1, 4]
L2 = [1e-3, 1e-2, 1e-1]


def read_predictions(path):
    out = {}
    for row in csv.DictReader(open(path)):
        if row["status"] != "ok":
            continue
        image = row["image"].rsplit("/", 1)[-1].rsplit(".", 1)[0]
        out[image] = np.array([float(row[c]) for c in CLASSES])
    return out


def metadata_features(meta):
    sites = sorted({m["localization"] for m in meta.values()})
    def features(image):
        m = meta[image]
        age = m["age"]
        known = age not in ("", "nan")
        f = [(float(age) - 50.0) / 20.0 if known else 0.0, 0.0 if known else 1.0]
        f += [1.0 if m["sex"] == s else 0.0 for s in ("male", "female")]
        f += [1.0 if m["localization"] == s else 0.0 for s in sites]
        return np.array(f)
    return features


def fit(x, y, l2, offset=None, steps=3000, lr=0.5):
    """Multinomial logistic regression by full-batch gradient descent
    (class-balanced weights, L2 on the weights, not the bias); `offset` is
    added to the logits as is (the image model's log-probabilities, kept)."""
    n, d = x.shape
    offset = np.zeros((n, len(CLASSES))) if offset is None else offset
    k = len(CLASSES)
    counts = np.bincount(y, minlength=k).astype(float)
    sample_w = (n / (k * np.maximum(counts, 1)))[y]
    w = np.zeros((d, k))
    b = np.zeros(k)
    onehot = np.eye(k)[y]
    for _ in range(steps):
        z = x @ w + b + offset
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) * sample_w[:, None] / n
        w -= lr * (x.T @ g + l2 * w)
        b -= lr * g.sum(0)
    return w, b


def predict(w, b, x, offset=0.0):
    z = x @ w + b + offset
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def auc(score, positive):
    order = np.argsort(score)
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    n1 = positive.sum()
    n0 = len(positive) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    return (ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n0 * n1)


def threshold_for(p, y, sensitivity=0.95):
    share = p[:, MALIGNANT].sum(1)
    malignant = np.isin(y, MALIGNANT)
    values = np.sort(share[malignant])
    return values[int(np.floor((1 - sensitivity) * len(values)))]


def scores(p, y, threshold):
    pred = p.argmax(1)
    recalls = [np.mean(pred[y == c] == c) for c in range(len(CLASSES))]
    share = p[:, MALIGNANT].sum(1)
    malignant = np.isin(y, MALIGNANT)
    referred = share >= threshold
    at95 = share >= threshold_for(p, y)
    return {
        "malignant_auc": auc(share, malignant),
        "nevi_at_95": at95[y == 5].mean(),
        "bacc": np.mean(recalls),
        "auc": np.mean([auc(p[:, c], y == c) for c in range(len(CLASSES))]),
        "mel": recalls[4],
        "sens": referred[malignant].mean(),
        "nevi": referred[y == 5].mean(),
    }


def main():
    split_path, meta_path, pred_dir = sys.argv[1:4]
    split = {r["image"]: r for r in csv.DictReader(open(split_path))}
    meta = {r["image_id"]: r for r in csv.DictReader(open(meta_path))}
    features = metadata_features(meta)
    parts = {}
    for part in ["train", "val", "test"]:
        file = f"{pred_dir}/pred-{part}.csv"
        if part == "train" and not os.path.exists(file):
            print("no train predictions: the fusion is fitted on validation only", file=sys.stderr)
            continue
        preds = read_predictions(file)
        images = [i for i in preds if i in split and split[i]["part"] == part]
        y = np.array([CLASSES.index(split[i]["class"]) for i in images])
        logp = np.log(np.clip(np.array([preds[i] for i in images]), 1e-6, 1))
        m = np.array([features(i) for i in images])
        parts[part] = (y, logp, m)
        print(f"{part}: {len(images)} photos", file=sys.stderr)

    rows = []
    yv, lv, _ = parts["val"]
    yt, lt, _ = parts["test"]
    pv, pt = np.exp(lv), np.exp(lt)
    rows.append(("image model alone (the bundle)", scores(pt, yt, threshold_for(pv, yv))))
    mv, mt = parts["val"][2], parts["test"][2]
    for fitted_on in [p for p in ["val", "train"] if p in parts]:
        y, l, m = parts[fitted_on]
        # The same fit with no metadata at all: only the per-class bias moves,
        # to tell a better prior of classes from what age, sex and site add.
        w, b = fit(np.zeros((len(y), 0)), y, l2=0.0, offset=l)
        pv_f = predict(w, b, np.zeros((len(yv), 0)), lv)
        pt_f = predict(w, b, np.zeros((len(yt), 0)), lt)
        rows.append((f"image + class bias alone, fitted on {fitted_on}", scores(pt_f, yt, threshold_for(pv_f, yv))))
        for l2 in L2:
            # The image model's log-probabilities kept as they are; the
            # metadata moves each class's score (a prior from age, sex, site).
            w, b = fit(m, y, l2=l2, offset=l)
            pv_f, pt_f = predict(w, b, mv, lv), predict(w, b, mt, lt)
            name = f"image + age/sex/site prior, fitted on {fitted_on} (L2 {l2})"
            rows.append((name, scores(pt_f, yt, threshold_for(pv_f, yv))))
            # Everything refitted: the image scores re-weighted with the metadata.
            w, b = fit(np.hstack([l, m]), y, l2=l2)
            pv_f = predict(w, b, np.hstack([lv, mv]))
            pt_f = predict(w, b, np.hstack([lt, mt]))
            name = f"image scores and age/sex/site refitted on {fitted_on} (L2 {l2})"
            rows.append((name, scores(pt_f, yt, threshold_for(pv_f, yv))))
    print("| test part | balanced acc. | mean AUC | mel recall | malignant referred | nevi referred "
          "| malignant vs benign AUC | nevi referred at 95% sensitivity on test |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in rows:
        print(f"| {name} | {s['bacc']:.3f} | {s['auc']:.3f} | {s['mel']:.3f} | {s['sens']:.3f} | "
              f"{s['nevi']:.3f} | {s['malignant_auc']:.3f} | {s['nevi_at_95']:.3f} |")


if __name__ == "__main__":
    main()
