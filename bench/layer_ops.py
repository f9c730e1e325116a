#!/usr/bin/env python3
"""Where one decoder layer's time goes, op by op, in PyTorch on this GPU: the floor SharpTune's layer is held against.

Times (CUDA events, median of --reps after warm-up) each operation of one Llama decoder layer with LoRA r on all
seven projections, at the shapes of a model and batch: the frozen projections' GEMMs forward and their grad-input
GEMMs backward, the same GEMMs merged (q|k|v, gate|up), the LoRA side products, attention (SDPA, causal) forward and
backward, the elementwise ops, and a whole layer in plain PyTorch eager (forward; forward + backward). Prints a
markdown table (ms, TFLOP/s or GB/s) and writes it to --out.

    python3 bench/layer_ops.py --model llama3-8b --batch 2 --seq 2048 --out layer_ops.md
"""
import argparse
import torch
import torch.nn.functional as F

SHAPES = {  # hidden, intermediate, heads, kv heads
    "llama3-8b": (4096, 14336, 32, 8),
    "llama3.2-3b": (3072, 8192, 24, 8),
    "llama3.2-1b": (2048, 8192, 32, 8),
}


def timed(fn, reps):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="llama3-8b", choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--seq", type=int, default=2048)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out")
    a = ap.parse_args()
    hidden, inter, heads, kv = SHAPES[a.model]
    hd = hidden // heads
    t, r = a.batch * a.seq, a.rank
    dev, bf = "cuda", torch.bfloat16
    torch.manual_seed(0)
    w = lambda o, i: torch.randn(o, i, device=dev, dtype=bf) * 0.02
    proj = {"q": (hidden, hidden), "k": (kv * hd, hidden), "v": (kv * hd, hidden), "o": (hidden, hidden),
            "gate": (inter, hidden), "up": (inter, hidden), "down": (hidden, inter)}
    W = {n: w(*s) for n, s in proj.items()}
    A = {n: w(r, s[1]) for n, s in proj.items()}
    B = {n: w(s[0], r) for n, s in proj.items()}
    X = {n: torch.randn(t, s[1], device=dev, dtype=bf) for n, s in proj.items()}
    Y = {n: torch.randn(t, s[0], device=dev, dtype=bf) for n, s in proj.items()}
    rows = []

    def gemm(name, fn, m, n, k):
        ms = timed(fn, a.reps)
        rows.append((name, ms, f"{2 * m * n * k / ms / 1e9:.0f} TFLOP/s"))
        return ms

    def mem(name, fn, nbytes):
        ms = timed(fn, a.reps)
        rows.append((name, ms, f"{nbytes / ms / 1e6:.0f} GB/s"))
        return ms

    fwd = sum(gemm(f"{n}: x W^T [{t}x{s[1]}] -> {s[0]}", lambda n=n: X[n] @ W[n].t(), t, s[0], s[1]) for n, s in proj.items())
    rows.append(("sum of the seven forward GEMMs", fwd, ""))
    bwd = sum(gemm(f"{n}: dy W (grad input)", lambda n=n: Y[n] @ W[n], t, s[1], s[0]) for n, s in proj.items())
    rows.append(("sum of the seven grad-input GEMMs", bwd, ""))
    qkv = torch.cat([W["q"], W["k"], W["v"]])
    gu = torch.cat([W["gate"], W["up"]])
    gemm(f"merged q|k|v: x W^T -> {qkv.shape[0]}", lambda: X["q"] @ qkv.t(), t, qkv.shape[0], hidden)
    gemm(f"merged gate|up: x W^T -> {gu.shape[0]}", lambda: X["gate"] @ gu.t(), t, gu.shape[0], hidden)
    lora = 0.0
    for n, s in proj.items():
        lora += mem(f"{n}: h = x A^T (LoRA)", lambda n=n: X[n] @ A[n].t(), 2 * t * s[1])
        h = X[n] @ A[n].t()
        y = Y[n].clone()
        lora += mem(f"{n}: y += s h B^T (addmm_)", lambda n=n, h=h, y=y: y.addmm_(h, B[n].t(), alpha=2.0), 4 * t * s[0])
    rows.append(("sum of the LoRA side products, forward", lora, ""))
    # The skinny products by themselves: shared inputs merged (q|k|v, gate|up), and the backward's shapes.
    for label, xin, ranks in (("x [t x hidden]", X["q"], (16, 32, 48, 64)), ("h [t x intermediate]", X["down"], (16,))):
        for rr in ranks:
            aa = w(rr, xin.shape[1])
            mem(f"{label} A^T, r={rr}", lambda xin=xin, aa=aa: xin @ aa.t(), 2 * xin.numel())
    dh = torch.randn(t, 48, device=dev, dtype=bf)
    mem("grad A: dh^T x, r=16", lambda: dh[:, :16].t() @ X["q"], 2 * X["q"].numel())
    mem("grad A: dh^T x, r=48 (q|k|v merged)", lambda: dh.t() @ X["q"], 2 * X["q"].numel())
    mem("dh = dy B, dy [t x intermediate], r=16", lambda: Y["gate"] @ B["gate"], 2 * Y["gate"].numel())

    q = torch.randn(a.batch, heads, a.seq, hd, device=dev, dtype=bf, requires_grad=True)
    k = torch.randn(a.batch, heads, a.seq, hd, device=dev, dtype=bf, requires_grad=True)
    v = torch.randn(a.batch, heads, a.seq, hd, device=dev, dtype=bf, requires_grad=True)
    attn_flops = 4 * a.batch * heads * a.seq * a.seq * hd / 2
    sdpa = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    ms = timed(lambda: sdpa(), a.reps)
    rows.append(("SDPA causal forward", ms, f"{attn_flops / ms / 1e9:.0f} TFLOP/s"))
    out = sdpa()
    g = torch.randn_like(out)
    ms = timed(lambda: torch.autograd.grad(out, (q, k, v), g, retain_graph=True), a.reps)
    rows.append(("SDPA causal backward", ms, f"{2.5 * attn_flops / ms / 1e9:.0f} TFLOP/s"))

    x = X["q"]
    nw = torch.ones(hidden, device=dev, dtype=bf)
    mem("RMSNorm (eager, fp32 inside)", lambda: (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5)).to(bf) * nw, 4 * t * hidden)
    gt, ut = Y["gate"], Y["up"]
    mem("SwiGLU silu(g) * u (eager)", lambda: F.silu(gt) * ut, 6 * t * inter)
    mem("residual add", lambda: x + Y["o"], 6 * t * hidden)

    def layer(inp):
        hs = inp
        n1 = F.rms_norm(hs, (hidden,), nw, 1e-5)
        lo = lambda n, z: F.linear(z, W[n]) + 2.0 * F.linear(F.linear(z, A[n]), B[n])
        qq = lo("q", n1).view(a.batch, a.seq, heads, hd).transpose(1, 2)
        kk = lo("k", n1).view(a.batch, a.seq, kv, hd).transpose(1, 2)
        vv = lo("v", n1).view(a.batch, a.seq, kv, hd).transpose(1, 2)
        att = F.scaled_dot_product_attention(qq, kk, vv, is_causal=True, enable_gqa=True)
        hs = hs + lo("o", att.transpose(1, 2).reshape(a.batch, a.seq, hidden))
        n2 = F.rms_norm(hs, (hidden,), nw, 1e-5)
        return hs + lo("down", F.silu(lo("gate", n2)) * lo("up", n2))

    for p in list(A.values()) + list(B.values()):
        p.requires_grad_(True)
    inp = torch.randn(a.batch, a.seq, hidden, device=dev, dtype=bf, requires_grad=True)
    with torch.no_grad():
        ms = timed(lambda: layer(inp), a.reps)
    rows.append(("whole layer, PyTorch eager, forward (no RoPE)", ms, ""))
    go = torch.randn(a.batch, a.seq, hidden, device=dev, dtype=bf)
    ms = timed(lambda: layer(inp).backward(go), a.reps)
    rows.append(("whole layer, PyTorch eager, forward + backward", ms, ""))

    lines = [f"### One {a.model} layer, {a.batch} x {a.seq} tokens, LoRA r={r}, bf16, {torch.cuda.get_device_name()}, torch {torch.__version__}",
             "", "| op | ms | rate |", "|---|---:|---|"] + [f"| {n} | {ms:.3f} | {rate} |" for n, ms, rate in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if a.out:
        open(a.out, "w").write(text)


if __name__ == "__main__":
    main()
