"""Length-sorted, dynamically padded batches through a model: the engine's inner loop (CPU and CUDA)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shoplake.progress import Progress

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

#: rows tokenised at a time: the next chunk is tokenised while the GPU runs the last one's batches
TOKENIZE_ROWS = 4096
#: inputs at least this long log progress while they run (a served request never does)
PROGRESS_ROWS = 1024


def auto_batch_tokens(device: str) -> int:
    """Padded tokens per forward pass when ``batch_tokens`` is 0: large on a GPU (the matrix units need long
    matrices to be busy), small on a CPU (batches that stay in its caches: on the 2-core dev machine 1,024 and
    2,048 tokens ran fastest, 16,384 at half their speed)."""
    return 65536 if device == "cuda" else 1024


def plan_batches(
    lengths: np.ndarray, *, batch_size: int, batch_tokens: int, multiple: int = 8
) -> list[tuple[int, int]]:
    """``[(lo, hi), …]`` over ``lengths`` sorted ascending: consecutive rows whose padded size (rows × the last
    row's length, rounded up to ``multiple``) stays within ``batch_tokens``, at most ``batch_size`` rows; a row
    longer than the budget alone still gets a batch of its own."""
    out, lo, n = [], 0, len(lengths)
    while lo < n:
        hi = lo + 1
        while hi < n and hi - lo < batch_size:
            width = -(-int(lengths[hi]) // multiple) * multiple
            if (hi - lo + 1) * width > batch_tokens:
                break
            hi += 1
        out.append((lo, hi))
        lo = hi
    return out


def padded_batch(
    ids: list[list[int]], lengths: np.ndarray, rows: np.ndarray, *, max_length: int, pad: int, device: str
) -> dict[str, Any]:
    """The model inputs of ``rows`` (sorted by length): token ids padded to the longest, rounded up to a multiple of
    8, and their attention mask, on ``device`` (through pinned memory, without blocking, on CUDA)."""
    import torch

    lens = lengths[rows]
    cols = max(1, min(-(-int(lens[-1]) // 8) * 8, max(max_length, int(lens[-1]))))
    host = np.full((len(rows), cols), pad, dtype=np.int64)
    for r, i in enumerate(rows):
        host[r, : lens[r]] = ids[i]
    input_ids, lens_t = torch.from_numpy(host), torch.from_numpy(lens)
    if device == "cuda":
        input_ids = input_ids.pin_memory().to(device, non_blocking=True)
        lens_t = lens_t.pin_memory().to(device, non_blocking=True)
    mask = (torch.arange(cols, device=device)[None, :] < lens_t[:, None]).to(torch.long)
    return {"input_ids": input_ids, "attention_mask": mask}


def run_sorted_batches(
    tokenizer: Any,
    texts: Sequence[str],
    forward: Any,
    *,
    batch_size: int,
    max_length: int,
    device: str,
    width: int | None = None,
    batch_tokens: int = 0,
) -> np.ndarray:
    """Run ``forward(encoded batch) -> tensor`` over length-sorted, dynamically padded batches.

    Texts are tokenised a chunk at a time (the fast tokenizer, one call per chunk), sorted by token count and cut
    into batches of about ``batch_tokens`` padded tokens (at most ``batch_size`` rows), each padded only to its own
    longest text (rounded up to a multiple of 8). On CUDA the batches go through pinned memory with non-blocking
    copies and their results stay on the device until the chunk is done — one host sync per chunk, not per batch —
    and the next chunk is tokenised while the GPU runs this one. The model runs in the dtype its weights were cast
    to (:func:`place_module`). Results come back in input order, one row per text (``width`` columns, or a vector
    when ``width`` is None).
    """
    import torch

    n = len(texts)
    out = np.zeros((n,) if width is None else (n, width), dtype=np.float32)
    budget = batch_tokens or auto_batch_tokens(device)
    cuda = device == "cuda"
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # on the CPU a chunk of TOKENIZE_ROWS texts takes minutes: count each batch as it finishes (a line at least every
    # 20 s); on CUDA the batches run asynchronously, so a chunk counts when its results are back on the host
    progress = Progress(n, "texts through the model", log, every_s=20.0)

    def launch(start: int) -> tuple[int, np.ndarray, torch.Tensor, Any]:
        chunk = [t if isinstance(t, str) else "" for t in texts[start : start + TOKENIZE_ROWS]]
        ids = tokenizer(
            chunk, truncation=True, max_length=max_length, padding=False,
            return_attention_mask=False, return_token_type_ids=False,
        )["input_ids"]  # fmt: skip
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        order = np.argsort(lengths, kind="stable")
        results = None
        for lo, hi in plan_batches(lengths[order], batch_size=batch_size, batch_tokens=budget):
            res = forward(padded_batch(ids, lengths, order[lo:hi], max_length=max_length, pad=pad, device=device))
            res = res.float()
            if results is None:
                results = torch.empty((len(ids), *res.shape[1:]), dtype=torch.float32, device=device)
            results[lo:hi] = res
            if not cuda:
                progress.update(hi - lo)
        if results is None:  # an empty chunk
            results = torch.empty((0,), dtype=torch.float32)
        done = None
        if cuda:  # copy back without blocking; the caller waits on the event when it needs the numbers
            host_out = torch.empty(results.shape, dtype=torch.float32, pin_memory=True)
            host_out.copy_(results, non_blocking=True)
            done = torch.cuda.Event()
            done.record()
            results = host_out
        return start, order, results, done

    def collect(pending: tuple[int, np.ndarray, torch.Tensor, Any]) -> None:
        start, order, results, done = pending
        if done is not None:
            done.synchronize()
        out[start + order] = results.numpy()
        if cuda:
            progress.update(len(order))

    pending = None
    # a long input also logs while its first batches run (the first line came 31 s into a cold start on 2 cores)
    beat = progress.beating() if n >= PROGRESS_ROWS else contextlib.nullcontext()
    with torch.inference_mode(), beat:
        for start in range(0, n, TOKENIZE_ROWS):
            launched = launch(start)  # on CUDA, tokenising this chunk overlapped the GPU's work on the last one
            if pending is not None:
                collect(pending)
            pending = launched
        if pending is not None:
            collect(pending)
    return out


def sentence_embeddings(
    tokenizer: Any, model: Any, texts: Sequence[str], cfg: Any, *, max_length: int, device: str, width: int
) -> np.ndarray:
    """Mean-pooled, L2-normalised sentence embeddings of ``texts`` by an encoder ``model`` (rows in input order;
    ``cfg`` gives ``batch_size`` and ``batch_tokens``): what a head is fitted on and what it reads when served."""
    return run_sorted_batches(
        tokenizer,
        texts,
        lambda enc: mean_pool(model(**enc).last_hidden_state, enc["attention_mask"]),
        batch_size=cfg.batch_size,
        batch_tokens=cfg.batch_tokens,
        max_length=max_length,
        device=device,
        width=width,
    )


def place_module(module: Any, device: str, dtype: torch.dtype) -> Any:
    """``module`` in eval mode on ``device`` with its weights in ``dtype`` (bf16 weights on CUDA: the matrix
    units' native type, no autocast casting the weights again on every call)."""
    module.eval()
    return module.to(device=device, dtype=dtype)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of token vectors, padding excluded, L2-normalised (the all-MiniLM-L6-v2 sentence embedding)."""
    import torch

    hidden = hidden.float()  # bf16 token vectors: sum in fp32
    m = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * m).sum(dim=1)
    pooled = summed / m.sum(dim=1).clamp(min=1e-9)
    return torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
