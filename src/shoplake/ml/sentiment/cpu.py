"""CPU inference kernels and settings: shoplake's attention for bf16, glibc's allocator, oneDNN-packed linear
weights and the native-bf16 probe (see docs/performance.md, "Sentiment throughput")."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


def attention_of(model: Any) -> str | None:
    """The attention kernel a transformers model runs (``sdpa``, ``eager``, …); None for any other model."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None)


def use_attention(model: Any, name: str) -> str | None:
    """Switch a transformers model's attention kernel to ``name`` (``eager``: plain matrix products and softmax;
    ``sdpa``: PyTorch's fused kernel; :data:`CPU_ATTENTION`); returns the one it had, None for a model that cannot
    switch (it keeps its own)."""
    before = attention_of(model)
    if not before or not hasattr(model, "set_attn_implementation"):
        return None
    if name == CPU_ATTENTION:
        _register_cpu_attention()
    try:
        model.set_attn_implementation(name)
    except (ValueError, ImportError) as exc:  # an architecture without the attention interface
        log.info("%s keeps %s attention (%s)", type(model).__name__, before, exc)
        return None
    return before


#: shoplake's attention for bf16 on a CPU (:func:`cpu_attention`), registered with transformers under this name
CPU_ATTENTION = "shoplake_cpu"


def cpu_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Inference attention as plain matrix products, for bf16 on a CPU, where PyTorch's fused SDPA kernel is the
    slower one: the query is scaled before the product (a tensor of ``head_dim`` columns, not the L × L scores),
    the additive padding mask is added in place, no attention weights are returned (see docs/performance.md, "Sentiment
    throughput"). Same arithmetic as transformers' eager attention up to rounding."""
    import torch

    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query * scaling, key.transpose(2, 3))
    if attention_mask is not None:
        scores += attention_mask
    out = torch.matmul(scores.softmax(dim=-1), value)
    return out.transpose(1, 2).contiguous(), None


def _register_cpu_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, eager_mask

    AttentionInterface.register(CPU_ATTENTION, cpu_attention)
    AttentionMaskInterface.register(CPU_ATTENTION, eager_mask)  # the additive mask eager attention takes


def prepare_cpu_model(model: Any, precision: str, *, bf16: bool, compiled: bool, batch_tokens: int) -> int:
    """Ready a model placed on the CPU for inference: glibc's allocator tuned (:func:`tune_cpu_allocator`); fp32 and
    bf16 linear weights prepacked for oneDNN (:func:`prepack_cpu_linears`; not int8 or ONNX, which replace the
    layers, nor a model to be compiled, which packs the weights itself); bf16 with :func:`cpu_attention` (in fp32
    the fused SDPA kernel stays), and a warning where the CPU has no native bf16. Returns the layers packed."""
    tune_cpu_allocator()
    packed = 0
    if precision in ("auto", "fp32", "bf16") and not compiled:
        packed = prepack_cpu_linears(model, batch_tokens)
    if bf16:
        use_attention(model, CPU_ATTENTION)
        if cpu_bf16_native() is False:
            log.warning(
                "precision=bf16 on a CPU without native bf16 instructions (AVX512_BF16 or AMX): its speed-up was "
                "measured with them, and here PyTorch emulates the bf16 products in fp32; compare it with fp32 "
                "(bench/sentiment_throughput.py --model … --precision bf16) or set precision fp32 "
                "(SHOPLAKE_SENTIMENT_PRECISION)"
            )
    return packed


#: glibc's malloc settings for CPU inference: blocks up to 32 MiB (its largest) from the heap, not a fresh mmap
#: whose pages the kernel zeroes on every forward pass; freed memory kept up to 1 GiB for the next batch
MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD = 32 << 20, 1 << 30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)


def tune_cpu_allocator() -> bool:
    """Set :data:`MALLOC_MMAP_THRESHOLD` / :data:`MALLOC_TRIM_THRESHOLD` in this process (glibc's ``mallopt``).

    The attention and feed-forward tensors of a CPU forward pass are a few MiB each: with glibc's default, sliding
    threshold they were mapped and unmapped on every pass: bf16 with plain attention scored 172.6 reviews/s, 213.0
    with these settings (2,000 Steam reviews, 2 cores, two runs). False, and nothing changed, where the C library is
    not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        done = bool(libc.mallopt(_M_MMAP_THRESHOLD, MALLOC_MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, MALLOC_TRIM_THRESHOLD)
        )
    except (OSError, AttributeError):  # musl, macOS, Windows: their allocators, as they are
        return False
    if done:
        log.debug("glibc malloc: mmap threshold %d, trim threshold %d", MALLOC_MMAP_THRESHOLD, MALLOC_TRIM_THRESHOLD)
    return done


def prepack_cpu_linears(model: Any, batch_tokens: int) -> int:
    """Lay out the weight of every ``torch.nn.Linear`` in a bf16 or fp32 model on the CPU once, in oneDNN's blocked
    format for batches of about ``batch_tokens`` rows (what ``torch.compile`` does to frozen weights), and have each
    layer call oneDNN's linear kernel on it instead of PyTorch's default path with the plain weight on every call.
    The same numbers (fp32 up to summation order); on the 2-core dev CPU a forward pass of the default model
    1.15x–1.18x as fast in bf16 and 1.8x–2.0x in fp32 (see docs/performance.md, "Sentiment throughput"). The plain
    weights stay as they are. Returns how many layers were packed: 0, and the model as it was, where this PyTorch or
    CPU has no oneDNN packing for them."""
    import functools

    import torch

    linears = [m for m in model.modules() if type(m) is torch.nn.Linear]
    try:
        packed = [torch.ops.mkldnn._reorder_linear_weight(m.weight.detach(), batch_tokens) for m in linears]
        if linears:  # a kernel that packs but will not run here fails now, not on every batch
            _packed_linear(packed[0], None, torch.zeros(1, linears[0].in_features, dtype=linears[0].weight.dtype))
    except (RuntimeError, AttributeError, NotImplementedError) as exc:  # no oneDNN, or no bf16 in it
        log.info("linear weights left unpacked (%s: %s)", type(exc).__name__, exc)
        return 0
    for module, weight in zip(linears, packed, strict=True):
        bias = None if module.bias is None else module.bias.detach()
        module.forward = functools.partial(_packed_linear, weight, bias)
    return len(linears)


def _packed_linear(weight: torch.Tensor, bias: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    import torch

    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def cpu_bf16_native() -> bool | None:
    """Whether this x86 CPU multiplies bf16 natively (AVX512_BF16 or AMX, as PyTorch detects them); None where that
    cannot be told: another architecture (Arm's bf16 is not probed), a PyTorch without the probes."""
    import platform

    import torch

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:
        return None
