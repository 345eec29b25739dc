#!/usr/bin/env python3
"""Fixture maker for convnet's optimizer tests: PyTorch's own training steps on a small ConvNet.

Writes into OUT_DIR:
  model.onnx            the network with its initial weights (opset 13, batch fixed to B, initializer names = state_dict names)
  input.f32, labels.i32 one batch (little-endian float32 NCHW / int32)
  <opt>_step<k>.f32     for opt in sgd, sgd_nesterov, adam, adamw and k = 1..STEPS: every parameter after k steps on
                        that same batch, concatenated in manifest order
  <opt>_loss<k>         the loss before step k (text)
  names.txt             one line per parameter: name and shape (comma-separated), in the order of the step files
  manifest.json         the same with the hyper-parameters (for people)
Usage: torch_steps.py OUT_DIR
"""
import json
import os
import sys

import torch
import torch.nn as nn

OUT = sys.argv[1]
B, C, H, W, K, STEPS = 4, 1, 8, 8, 5, 3
os.makedirs(OUT, exist_ok=True)
torch.manual_seed(7)
torch.set_num_threads(1)


def net():
    torch.manual_seed(7)
    return nn.Sequential(
        nn.Conv2d(C, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, stride=2), nn.Tanh(),
        nn.Flatten(), nn.Linear(6 * 2 * 2, 16), nn.ReLU(), nn.Linear(16, K))


x = torch.rand(B, C, H, W)
y = torch.randint(0, K, (B,))
model = net().eval()
torch.onnx.export(model, x, os.path.join(OUT, "model.onnx"), opset_version=13, do_constant_folding=False,
                  input_names=["input"], output_names=["scores"])
names = [n for n, _ in model.named_parameters()]
x.numpy().astype("<f4").tofile(os.path.join(OUT, "input.f32"))
y.numpy().astype("<i4").tofile(os.path.join(OUT, "labels.i32"))

optimizers = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-3),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, weight_decay=0, nesterov=True),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
}
for key, make in optimizers.items():
    m = net().train()
    opt = make(m.parameters())
    loss_fn = nn.CrossEntropyLoss()
    for k in range(1, STEPS + 1):
        opt.zero_grad()
        loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()
        with open(os.path.join(OUT, "%s_loss%d" % (key, k)), "w") as f:
            f.write("%.9g\n" % loss.item())
        flat = torch.cat([p.detach().reshape(-1) for p in m.parameters()])
        flat.numpy().astype("<f4").tofile(os.path.join(OUT, "%s_step%d.f32" % (key, k)))

with open(os.path.join(OUT, "names.txt"), "w") as f:
    for n, p in model.named_parameters():
        f.write("%s %s\n" % (n, ",".join(str(d) for d in p.shape)))
with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump({"batch": B, "image": [C, H, W], "classes": K, "steps": STEPS, "names": names,
               "shapes": [list(p.shape) for p in model.parameters()],
               "optimizers": {"sgd": {"lr": 0.1, "momentum": 0.9, "weight_decay": 1e-3, "nesterov": False},
                              "sgd_nesterov": {"lr": 0.05, "momentum": 0.8, "weight_decay": 0, "nesterov": True},
                              "adam": {"lr": 0.01, "weight_decay": 1e-3},
                              "adamw": {"lr": 0.01, "weight_decay": 0.05}},
               "torch": torch.__version__}, f, indent=1)
print("wrote", OUT)
