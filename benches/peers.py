"""The PyTorch and onnxruntime side of the peer benchmark (see peers.sh).

EfficientNet-Lite0 written here in PyTorch from its published architecture
(TensorFlow "same" padding, ReLU6, no squeeze-excitation, BatchNorm eps 1e-3),
loaded with the same ImageNet weights dermlens imports, checked against the
golden reference logits, exported to ONNX, and timed on the same tasks as
dermlens' own bench, one JSON line per timing.

    python peers.py check WEIGHTS REFERENCE_DIR
    python peers.py onnx WEIGHTS OUT.onnx INPUT
    python peers.py torch|ort TASK BATCH INPUT REPEATS [ONNX]
    python peers.py table RESULTS.jsonl OUT.json
"""

import json
import math
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

STAGES = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
          (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
THREADS = 2
CUT = 12


class SameConv(nn.Conv2d):
    """A convolution with TensorFlow's "same" padding (uneven: the extra pixel after)."""

    def forward(self, x):
        (kh, kw), (sh, sw) = self.kernel_size, self.stride
        ih, iw = x.shape[-2:]
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def bn(c):
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class Block(nn.Module):
    def __init__(self, expand, kernel, stride, cin, cout):
        super().__init__()
        hidden = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv(cin, hidden, 1, bias=False)
            self._bn0 = bn(hidden)
        self._depthwise_conv = SameConv(hidden, hidden, kernel, stride=stride, groups=hidden, bias=False)
        self._bn1 = bn(hidden)
        self._project_conv = SameConv(hidden, cout, 1, bias=False)
        self._bn2 = bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class Lite0(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
        self._bn0 = bn(32)
        blocks, cin = [], 32
        for expand, kernel, stride, cout, repeats in STAGES:
            for r in range(repeats):
                blocks.append(Block(expand, kernel, stride if r == 0 else 1, cin, cout))
                cin = cout
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv(320, 1280, 1, bias=False)
        self._bn1 = bn(1280)
        self._fc = nn.Linear(1280, classes)

    def lower(self, x, cut):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks[:cut]:
            x = block(x)
        return x

    def upper(self, x, cut):
        for block in self._blocks[cut:]:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(x.mean((2, 3)))

    def forward(self, x):
        return self.upper(self.lower(x, 0), 0)


def load(weights):
    model = Lite0()
    state = torch.load(weights, map_location="cpu", weights_only=False)
    model.load_state_dict(state)
    return model.eval()


def check(weights, reference_dir):
    """The port's logits against the golden reference: the benchmark times the right network."""
    model = load(weights)
    reference = json.load(open(f"{reference_dir}/reference.json"))
    worst = 0.0
    for name, case in reference["cases"].items():
        image, norm = name.split("|")
        if image == "zeros" or norm != "tf_lite_127_128":
            continue
        hwc = np.load(f"{reference_dir}/reference_inputs/{image}_u8_224.npy").astype(np.float32)
        x = torch.from_numpy((hwc - 127.0) / 128.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            logits = model(x)[0].numpy()
        worst = max(worst, float(np.abs(logits - np.array(case["logits"], dtype=np.float32)).max()))
    print(f"PyTorch port vs the golden logits: max abs difference {worst:.2e}", file=sys.stderr)
    if worst > 1e-3:
        sys.exit("the PyTorch port does not match the reference")


def export(weights, out, size):
    model = load(weights)
    x = torch.randn(1, 3, size, size)
    torch.onnx.export(model, (x,), out, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False)


def timed(repeats, f):
    f()
    runs = []
    for _ in range(max(repeats, 1)):
        started = time.perf_counter()
        f()
        runs.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(runs)


def run_torch(task, batch, size, repeats):
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    model = Lite0(7)
    x = torch.randn(batch, 3, size, size)
    if task == "infer":
        model.eval()
        with torch.inference_mode():
            return timed(repeats, lambda: model(x))
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    lower = None
    if task == "train-top":
        with torch.no_grad():
            lower = model.lower(x, CUT).detach()

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = model.upper(lower, CUT) if lower is not None else model(x)
        logits.pow(2).mean().backward()
        optimizer.step()

    return timed(repeats, step)


def run_ort(batch, size, repeats, onnx_path):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(onnx_path, options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((batch, 3, size, size)).astype(np.float32)
    return timed(repeats, lambda: session.run(None, {"x": x}))


def table(results, out):
    rows = [json.loads(line) for line in open(results) if line.strip().startswith("{")]
    keys = sorted({(r["task"], r["batch"], r["input"]) for r in rows}, key=lambda k: (k[0] != "infer", k))
    runners = ["dermlens", "dermlens-wgpu", "pytorch", "onnxruntime"]
    present = [r for r in runners if any(row["runner"] == r for row in rows)]
    summary = []
    for task, batch, size in keys:
        entry = {"task": task, "batch": batch, "input": size}
        for runner in present:
            times = [r["ms_per_image"] for r in rows if (r["task"], r["batch"], r["input"], r["runner"]) == (task, batch, size, runner)]
            if times:
                entry[runner] = statistics.median(times)
        summary.append(entry)
    head = "| task | batch | input | " + " | ".join(f"{r} (ms/image)" for r in present) + " | dermlens / PyTorch | dermlens / onnxruntime |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for e in summary:
        cells = [f"{e[r]:.1f}" if r in e else "-" for r in present]
        ratio = lambda peer: f"{e['dermlens'] / e[peer]:.2f}" if "dermlens" in e and peer in e else "-"
        print(f"| {e['task']} | {e['batch']} | {e['input']} | " + " | ".join(cells) + f" | {ratio('pytorch')} | {ratio('onnxruntime')} |")
    json.dump({"threads": THREADS, "results": summary, "runs": rows}, open(out, "w"), indent=2)


def main():
    command = sys.argv[1]
    if command == "check":
        check(sys.argv[2], sys.argv[3])
    elif command == "onnx":
        export(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif command in ("torch", "ort"):
        task, batch, size, repeats = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        if command == "torch":
            ms = run_torch(task, batch, size, repeats)
        else:
            ms = run_ort(batch, size, repeats, sys.argv[6])
        runner = "pytorch" if command == "torch" else "onnxruntime"
        print(json.dumps({"runner": runner, "task": task, "batch": batch, "input": size, "ms_per_image": round(ms / batch, 3)}))
    elif command == "table":
        table(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
