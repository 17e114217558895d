"""Models run another way than eager PyTorch: exported to ONNX Runtime (fp32 or int8 weights) or compiled with
``torch.compile``; both are called like the transformers model they replace."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shoplake.ml.sentiment.cpu import use_attention

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


class OnnxModel:
    """A transformer exported to ONNX and run by ONNX Runtime on the CPU, called like the torch model it replaces
    (``model(**encoded).logits`` / ``.last_hidden_state``); int8 quantises the weights dynamically (activations
    stay float). Exports are cached on disk by model, revision and precision, so a scoring job pays once."""

    def __init__(self, session: Any, config: Any, output: str) -> None:
        self.session = session
        self.config = config
        self.output = output
        self.inputs = [i.name for i in session.get_inputs()]

    @classmethod
    def build(cls, model: Any, tokenizer: Any, output: str, cache_dir: Path, key: str, *, quantize: bool) -> OnnxModel:
        import onnxruntime as ort
        import torch

        target = cache_dir / hashlib.sha256(key.encode()).hexdigest()[:16] / "model.onnx"
        if not target.exists():
            cls._export(model, tokenizer, output, target, quantize=quantize)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(target), options, providers=["CPUExecutionProvider"])
        log.info("ONNX Runtime session on %s (%s)", target, "int8 weights" if quantize else "fp32")
        return cls(session, model.config, output)

    @staticmethod
    def _export(model: Any, tokenizer: Any, output: str, target: Path, *, quantize: bool) -> None:
        import tempfile

        import torch

        sample = tokenizer(["a short review", "a somewhat longer review text"], padding=True, return_tensors="pt")
        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]

        class Positional(torch.nn.Module):  # ONNX inputs are positional; the model takes keywords
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *args: torch.Tensor) -> torch.Tensor:
                return getattr(self.model(**dict(zip(names, args, strict=True))), output)

        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            fp32 = Path(tmp) / "fp32.onnx"
            axes = {n: {0: "batch", 1: "tokens"} for n in names}
            axes[output] = {0: "batch"} if output == "logits" else {0: "batch", 1: "tokens"}
            # attention exported as plain matrix products and softmax: ONNX Runtime runs that faster on the CPU than
            # the exported scaled-dot-product kernel (133 vs 101 reviews/s for the default model, 2 threads)
            attention = use_attention(model, "eager")
            try:
                torch.onnx.export(
                    Positional().eval(),  # eval: the exporter restores the wrapper's mode after, and the model's
                    tuple(sample[n] for n in names),
                    str(fp32),
                    input_names=names,
                    output_names=[output],
                    dynamic_axes=axes,
                    opset_version=17,
                    dynamo=False,
                )
            finally:
                if attention:
                    use_attention(model, attention)
            final = fp32
            if quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                final = Path(tmp) / "int8.onnx"
                # weights of the matrix products only (embeddings stay fp32), one scale per output channel
                quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8, per_channel=True,
                                 op_types_to_quantize=["MatMul"])  # fmt: skip
            final.replace(target)  # whole or not at all: another process may be loading the cache

    def __call__(self, **enc: torch.Tensor) -> Any:
        import torch

        ids = enc["input_ids"]  # token types the engine does not send are all 0 (one segment)
        feeds = {n: (enc[n] if n in enc else torch.zeros_like(ids)).cpu().numpy() for n in self.inputs}
        return _Outputs(**{self.output: torch.from_numpy(self.session.run(None, feeds)[0])})

    def eval(self) -> OnnxModel:
        return self


class CompiledModel:
    """A model under ``torch.compile`` (dynamic shapes, so batches of every size share one compilation; frozen
    weights on the CPU, where the compiler then pre-packs them for its matrix kernels), called like the model. If
    compiling fails — an image without a C++ compiler, an operator the compiler does not take — it logs why and
    runs the plain model: slower, never a failed run."""

    def __init__(self, model: Any, device: str) -> None:
        import torch

        self.model, self.config = model, model.config
        self.compiled: Any = torch.compile(model, dynamic=True, options={"freezing": device == "cpu"})

    def __call__(self, **enc: torch.Tensor) -> Any:
        if self.compiled is not None:
            try:
                return self.compiled(**enc)
            except Exception as exc:  # the compiler's failures have no common type
                log.warning("torch.compile failed (%s: %s); running the model uncompiled", type(exc).__name__, exc)
                self.compiled = None
        return self.model(**enc)

    def parameters(self) -> Any:
        return self.model.parameters()


@dataclass
class _Outputs:
    logits: Any = None
    last_hidden_state: Any = None
