"""The inference engine on tiny random models built offline."""

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "fixtures"))

from shoplake.io.lake import read_partition, write_partition

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tiny_models import build_distilbert_classifier, build_embedding_head_model, build_sequence_classifier  # noqa: E402

from shoplake.ml.sentiment import (  # noqa: E402
    CPU_ATTENTION,
    EngineConfig,
    cpu_bf16_native,
    load_classifier,
    score_partition,
    tune_cpu_allocator,
    use_attention,
)

TEXTS = [
    "great game love it",
    "",
    "awful bug lag worst ever " * 40,  # longer than max_length: truncated, not an error
    "fun",
    "not very good story but great graphics",
    "boring",
    None,
]


@pytest.fixture(scope="module")
def seqcls_dir(tmp_path_factory):
    return str(build_sequence_classifier(tmp_path_factory.mktemp("seqcls")))


@pytest.fixture(scope="module")
def distilbert_dir(tmp_path_factory):
    return str(build_distilbert_classifier(tmp_path_factory.mktemp("distilbert")))


@pytest.fixture(scope="module")
def head_dir(tmp_path_factory):
    return str(build_embedding_head_model(tmp_path_factory.mktemp("head")))


def test_tiny_tokenizer_knows_its_words(seqcls_dir):
    from transformers import AutoTokenizer

    ids = AutoTokenizer.from_pretrained(seqcls_dir)("great fun")["input_ids"]
    assert 1 not in ids  # no [UNK]: the fixtures really feed different tokens to the model


def _one_by_one(clf, texts):
    return np.array([clf.positive_proba([t or ""])[0] for t in texts])


@pytest.mark.parametrize("which", ["seqcls_dir", "head_dir"])
def test_batched_scores_match_one_by_one_in_input_order(which, request, tmp_path):
    model = request.getfixturevalue(which)
    clf = load_classifier(model, cfg=EngineConfig(batch_size=3, max_length=32, device="cpu"), cache_dir=tmp_path)
    batched = clf.positive_proba([t or "" for t in TEXTS])
    # sorting by length + dynamic padding must not change any row's score or its position
    np.testing.assert_allclose(batched, _one_by_one(clf, TEXTS), atol=1e-5)
    assert batched.shape == (len(TEXTS),)
    assert len(set(np.round(batched, 6))) > 3  # different texts, different scores
    assert ((batched >= 0) & (batched <= 1)).all()


def test_token_budget_batches_cover_every_row_once():
    from shoplake.ml.sentiment import plan_batches

    rng = np.random.default_rng(7)
    for _ in range(50):
        lengths = np.sort(rng.integers(1, 300, size=int(rng.integers(0, 400))))
        budget, most = int(rng.integers(64, 4096)), int(rng.integers(1, 200))
        batches = plan_batches(lengths, batch_size=most, batch_tokens=budget)
        assert [i for lo, hi in batches for i in range(lo, hi)] == list(range(len(lengths)))
        for lo, hi in batches:
            padded = (hi - lo) * (-(-int(lengths[hi - 1]) // 8) * 8)
            assert hi - lo <= most
            assert padded <= budget or hi - lo == 1  # a row over the budget goes alone, never dropped
            if hi < len(lengths) and hi - lo < most:  # not cut early: one more row would break the budget
                assert (hi - lo + 1) * (-(-int(lengths[hi]) // 8) * 8) > budget


def _many_texts(n):
    rng = np.random.default_rng(3)
    words = [
        "great",
        "fun",
        "awful",
        "bug",
        "lag",
        "story",
        "graphics",
        "boring",
        "not",
        "very",
        "good",
        "love",
        "it",
        "worst",
        "ever",
    ]
    return [" ".join(rng.choice(words, size=int(rng.integers(0, 60)))) for _ in range(n)]


@pytest.mark.parametrize("which", ["seqcls_dir", "head_dir"])
def test_rows_keep_their_order_across_tokenised_chunks(which, request, monkeypatch):
    import shoplake.ml.sentiment.batching as batching

    clf = load_classifier(request.getfixturevalue(which), cfg=EngineConfig(device="cpu", batch_tokens=96))
    texts = _many_texts(230)
    whole = clf.positive_proba(texts)
    monkeypatch.setattr(batching, "TOKENIZE_ROWS", 37)  # chunks of 37 texts, batches of ≤ 96 padded tokens
    np.testing.assert_allclose(clf.positive_proba(texts), whole, atol=1e-6)
    np.testing.assert_allclose(whole[:20], _one_by_one(clf, texts[:20]), atol=1e-5)
    assert clf.positive_proba([]).shape == (0,)


def test_on_the_cpu_progress_counts_each_batch_not_each_tokenised_chunk(seqcls_dir, monkeypatch):
    # a first run fitted the sentiment head for minutes without a line: progress came once per 4,096-text chunk
    import shoplake.ml.sentiment.batching as batching

    counted = []

    class Recorder:
        def __init__(self, total, what, log, every_s=30.0):
            assert every_s <= 30
            self.total = total

        def update(self, n):
            counted.append(n)

    monkeypatch.setattr(batching, "Progress", Recorder)
    clf = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", batch_tokens=96))
    texts = _many_texts(230)
    clf.positive_proba(texts)
    assert sum(counted) == len(texts)
    assert len(counted) > 10  # one update per batch of ≤ 96 padded tokens (one chunk holds all 230 texts)


@pytest.mark.parametrize("which", ["head_dir", "seqcls_dir"])
def test_bf16_weights_on_cpu_stay_close_to_fp32(which, request):
    import torch

    model_dir = request.getfixturevalue(which)
    bf16 = load_classifier(model_dir, cfg=EngineConfig(device="cpu", precision="bf16"))
    assert next(bf16.model.parameters()).dtype == torch.bfloat16  # the weights, not an autocast around fp32 ones
    fp32 = load_classifier(model_dir, cfg=EngineConfig(device="cpu", precision="fp32"))
    # bf16 on the CPU runs shoplake's plain attention (faster there than the fused kernel); fp32 keeps the fused one
    assert bf16.model.config._attn_implementation == CPU_ATTENTION
    assert fp32.model.config._attn_implementation == "sdpa"
    texts = _many_texts(40)
    np.testing.assert_allclose(bf16.positive_proba(texts), fp32.positive_proba(texts), atol=0.03)


@pytest.mark.parametrize(("precision", "atol"), [("bf16", 1e-3), ("fp32", 1e-5)])
@pytest.mark.parametrize("which", ["seqcls_dir", "head_dir", "distilbert_dir"])
def test_cpu_linear_weights_are_prepacked_and_score_the_same(which, precision, atol, request, monkeypatch, caplog):
    import functools
    import logging

    import shoplake.ml.sentiment as engine
    import shoplake.ml.sentiment.cpu as cpu

    caplog.set_level(logging.INFO, logger=engine.__name__)
    model_dir = request.getfixturevalue(which)
    packed = load_classifier(model_dir, cfg=EngineConfig(device="cpu", precision=precision))
    linears = [m for m in packed.model.modules() if type(m) is torch.nn.Linear]
    assert packed.packed_linears == len(linears) > 0
    assert all(isinstance(m.forward, functools.partial) for m in linears)  # each layer calls the packed kernel
    assert f"{len(linears)} linear layers prepacked" in caplog.text

    monkeypatch.setattr(cpu, "prepack_cpu_linears", lambda model, batch_tokens: 0)
    plain = load_classifier(model_dir, cfg=EngineConfig(device="cpu", precision=precision))
    for clf in (packed, plain):  # the tiny models' biases are zeros: give both the same non-zero ones, in place
        gen = torch.Generator().manual_seed(5)
        with torch.no_grad():
            for name, param in clf.model.named_parameters():
                if name.endswith("bias"):
                    param.copy_(0.5 * torch.randn(param.shape, generator=gen))
    texts = _many_texts(60)  # batches of many widths and heights, each packed layer fed all of them
    np.testing.assert_allclose(packed.positive_proba(texts), plain.positive_proba(texts), atol=atol)
    np.testing.assert_allclose(_one_by_one(packed, texts[:10]), plain.positive_proba(texts[:10]), atol=atol)


def test_int8_and_compiled_models_keep_their_own_layers(seqcls_dir, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda model, **kw: model)  # no compiler run: only what gets packed
    assert load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="int8")).packed_linears == 0
    assert load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", compile=True)).packed_linears == 0


@pytest.mark.parametrize("op", ["_reorder_linear_weight", "_linear_pointwise"])  # packing, or the packed kernel
def test_without_onednn_packing_the_linear_layers_stay_plain(seqcls_dir, monkeypatch, caplog, op):
    import logging

    def unavailable(*args):
        raise RuntimeError("mkldnn bf16 path needs the cpu support avx512bw, avx512vl and avx512dq")

    caplog.set_level(logging.INFO, logger="shoplake.ml.sentiment")
    monkeypatch.setattr(torch.ops.mkldnn, op, unavailable)
    clf = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="bf16"))
    assert clf.packed_linears == 0
    assert "linear weights left unpacked (RuntimeError: mkldnn bf16 path" in caplog.text
    fp32 = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="fp32"))
    texts = _many_texts(40)
    np.testing.assert_allclose(clf.positive_proba(texts), fp32.positive_proba(texts), atol=0.03)


@pytest.mark.parametrize("native", [True, False])
def test_bf16_on_a_cpu_without_native_bf16_is_loaded_with_a_warning(seqcls_dir, monkeypatch, caplog, native):
    import shoplake.ml.sentiment.cpu as cpu

    monkeypatch.setattr(cpu, "cpu_bf16_native", lambda: native)
    clf = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="bf16"))
    assert next(clf.model.parameters()).dtype == torch.bfloat16  # it still runs bf16 as asked
    assert ("without native bf16 instructions" in caplog.text) is not native
    caplog.clear()
    load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="fp32"))
    assert "native bf16" not in caplog.text  # fp32 has nothing to warn about


def test_native_bf16_is_probed_on_x86_only(monkeypatch):
    import platform

    if platform.machine().lower() in ("x86_64", "amd64"):
        assert cpu_bf16_native() in (True, False)
    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert cpu_bf16_native() is None
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    assert cpu_bf16_native() is None


@pytest.mark.parametrize("which", ["seqcls_dir", "head_dir", "distilbert_dir"])
def test_the_cpu_attention_computes_what_the_fused_kernel_does(which, request):
    clf = load_classifier(request.getfixturevalue(which), cfg=EngineConfig(device="cpu", precision="fp32"))
    texts = _many_texts(60)  # lengths 0–60 words: batches with padding, so the mask matters
    fused = clf.positive_proba(texts)
    assert use_attention(clf.model, CPU_ATTENTION) == "sdpa"
    assert clf.model.config._attn_implementation == CPU_ATTENTION
    np.testing.assert_allclose(clf.positive_proba(texts), fused, atol=1e-5)
    np.testing.assert_allclose(_one_by_one(clf, texts[:10]), fused[:10], atol=1e-5)


def test_the_cpu_allocator_is_tuned_on_glibc_and_left_alone_elsewhere(monkeypatch):
    import ctypes
    import platform

    if platform.libc_ver()[0] == "glibc":
        assert tune_cpu_allocator() is True

    def no_glibc(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_glibc)
    assert tune_cpu_allocator() is False


def test_a_model_that_fails_to_compile_runs_uncompiled(seqcls_dir, monkeypatch, caplog):
    def no_compiler(model, **kw):
        def fail(**enc):
            raise RuntimeError("no C++ compiler in this image")

        return fail

    monkeypatch.setattr(torch, "compile", no_compiler)
    plain = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu"))
    clf = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", compile=True))
    assert type(clf.model).__name__ == "CompiledModel"
    texts = [t or "" for t in TEXTS]
    np.testing.assert_allclose(clf.positive_proba(texts), plain.positive_proba(texts), atol=1e-6)
    assert "torch.compile failed (RuntimeError: no C++ compiler" in caplog.text
    assert clf.model.compiled is None  # tried once, not on every batch


def test_partition_streaming_is_chunk_size_independent(seqcls_dir, tmp_path):
    n = 50
    ids = [f"id{i:03d}" for i in range(n)]
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    src = str(tmp_path / "curated" / "ds=2019-03-01")
    write_partition(pa.table({"recommendationid": ids, "review_text": texts}), src)
    outs = []
    for chunk in (7, 1000):
        clf = load_classifier(seqcls_dir, cfg=EngineConfig(batch_size=4, chunk_rows=chunk, device="cpu"))
        out = str(tmp_path / f"enriched{chunk}" / "ds=2019-03-01")
        res = score_partition(clf, src, out)
        assert res["rows"] == n
        outs.append(read_partition(out))
    assert outs[0].equals(outs[1])
    got = outs[0]
    assert got["recommendationid"].to_pylist() == ids  # row i is input row i
    assert set(got["model_id"].to_pylist()) == {seqcls_dir}
    assert set(got["sentiment_label"].to_pylist()) <= {"positive", "negative"}
    pos = np.array(got["positive_prob"].to_pylist())
    score = np.array(got["sentiment_score"].to_pylist())
    np.testing.assert_allclose(score, np.maximum(pos, 1 - pos), atol=1e-6)


def test_empty_partition_gives_an_empty_typed_output(head_dir, tmp_path):
    src = str(tmp_path / "curated" / "ds=2019-03-01")
    write_partition(
        pa.table({"recommendationid": pa.array([], pa.string()), "review_text": pa.array([], pa.string())}), src
    )
    clf = load_classifier(head_dir, cfg=EngineConfig(device="cpu"))
    out = str(tmp_path / "enriched" / "ds=2019-03-01")
    assert score_partition(clf, src, out)["rows"] == 0
    t = read_partition(out)
    assert t.num_rows == 0
    assert "positive_prob" in t.column_names
    assert (clf.model_id, clf.revision) == ("test/tiny-head", "r1")


def test_int8_on_cpu_stays_close_to_fp32(seqcls_dir):
    fp32 = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="fp32"))
    int8 = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu", precision="int8"))
    texts = [t or "" for t in TEXTS]
    np.testing.assert_allclose(int8.positive_proba(texts), fp32.positive_proba(texts), atol=0.05)


@pytest.mark.parametrize("which", ["seqcls_dir", "head_dir"])
def test_onnx_runtime_scores_like_torch_and_caches_its_export(which, request, tmp_path):
    pytest.importorskip("onnxruntime")
    model_dir = request.getfixturevalue(which)
    texts = [t or "" for t in TEXTS] + ["great fun " * 200]  # a text past max_length: truncated the same way
    fp32 = load_classifier(model_dir, cfg=EngineConfig(device="cpu", precision="fp32")).positive_proba(texts)
    cfg = EngineConfig(device="cpu", precision="onnx-fp32", batch_size=3)
    onnx = load_classifier(model_dir, cfg=cfg, cache_dir=tmp_path)
    assert type(onnx.model).__name__ == "OnnxModel"
    np.testing.assert_allclose(onnx.positive_proba(texts), fp32, atol=1e-5)  # batches of other shapes than export's
    [export] = list((tmp_path / "shoplake-onnx").glob("*/model.onnx"))
    stamp = export.stat().st_mtime_ns
    load_classifier(model_dir, cfg=cfg, cache_dir=tmp_path)
    assert export.stat().st_mtime_ns == stamp  # the second load reused the export
    int8 = load_classifier(model_dir, cfg=EngineConfig(device="cpu", precision="onnx-int8"), cache_dir=tmp_path)
    np.testing.assert_allclose(int8.positive_proba(texts), fp32, atol=0.05)
    assert len(list((tmp_path / "shoplake-onnx").glob("*/model.onnx"))) == 2


def test_bad_settings_are_refused(seqcls_dir):
    with pytest.raises(ValueError, match="batch_size"):
        EngineConfig(batch_size=0)
    with pytest.raises(ValueError, match="precision"):
        EngineConfig(precision="fp8")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA"):
            load_classifier(seqcls_dir, cfg=EngineConfig(device="cuda"))
    else:
        with pytest.raises(ValueError, match="runs on the CPU"):
            load_classifier(seqcls_dir, cfg=EngineConfig(device="cuda", precision="onnx-int8"))


def test_lake_uri_models_are_copied_to_a_cache(seqcls_dir, tmp_path):
    import shutil

    lake_copy = tmp_path / "lake" / "model" / "sentiment" / "version=2019-03-01"
    shutil.copytree(seqcls_dir, lake_copy)
    (lake_copy.parent / "current.json").write_text(f'{{"path": "file://{lake_copy}"}}')
    clf = load_classifier(f"file://{lake_copy.parent}", cfg=EngineConfig(device="cpu"), cache_dir=tmp_path / "c")
    local = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu"))
    np.testing.assert_allclose(clf.positive_proba(["great fun"]), local.positive_proba(["great fun"]), atol=1e-6)
    assert list((tmp_path / "c" / "shoplake-models").iterdir())


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("which", ["seqcls_dir", "head_dir"])
def test_cuda_bf16_matches_cpu(which, request):
    model = request.getfixturevalue(which)
    cpu = load_classifier(model, cfg=EngineConfig(device="cpu"))
    gpu = load_classifier(model, cfg=EngineConfig(device="cuda"))
    assert next(gpu.model.parameters()).dtype == torch.bfloat16
    texts = [t or "" for t in TEXTS] + _many_texts(9000)  # three tokenised chunks, in flight together on the GPU
    np.testing.assert_allclose(gpu.positive_proba(texts), cpu.positive_proba(texts), atol=0.03)


def test_model_map_parsing():
    from shoplake.ml.sentiment import ModelRoute, format_model_map, parse_model_map

    routes = parse_model_map("en=/lake/model/sentiment_head, *=org/multi-sentiment@0a1b2c3 ")
    assert routes == (
        ModelRoute("en", "/lake/model/sentiment_head", ""),
        ModelRoute("*", "org/multi-sentiment", "0a1b2c3"),
    )
    assert parse_model_map(format_model_map(routes)) == routes
    assert parse_model_map("de=s3://b/lake/model/x@v1/dir")[0].uri == "s3://b/lake/model/x@v1/dir"  # @ in a path
    for bad, why in [("english=x", "not <language>"), ("en=a,en=b", "twice"), ("", "empty"), ("en", "not <lang")]:
        with pytest.raises(ValueError, match=why):
            parse_model_map(bad)


LANG_ROWS = [("1", "great game love it", "en"), ("2", "fun", "zh"), ("3", "boring", "en"), ("4", "not good", "und")]


def _lang_partition(tmp_path):
    src = str(tmp_path / "curated" / "ds=2019-03-01")
    ids, texts, langs = (list(c) for c in zip(*LANG_ROWS, strict=True))
    write_partition(pa.table({"recommendationid": ids, "review_text": texts, "language_code": langs}), src)
    return src


def test_only_an_english_model_never_scores_other_languages(head_dir, tmp_path):
    from shoplake.ml.sentiment import ModelRoute, Router

    router = Router([ModelRoute("en", head_dir)], EngineConfig(device="cpu"))
    out = str(tmp_path / "enriched" / "ds=2019-03-01")
    res = score_partition(router, _lang_partition(tmp_path), out)
    assert (res["rows"], res["scored"], res["unsupported_language"]) == (4, 2, 2)
    rows = {r["recommendationid"]: r for r in read_partition(out).to_pylist()}
    for rid in ("2", "4"):
        assert rows[rid]["sentiment_status"] == "unsupported_language"
        assert rows[rid]["positive_prob"] is None
        assert rows[rid]["sentiment_label"] is None
        assert rows[rid]["model_id"] is None
    assert rows["1"]["sentiment_status"] == "scored"
    assert (rows["1"]["model_id"], rows["1"]["model_language"]) == ("test/tiny-head", "en")
    alone = load_classifier(head_dir, cfg=EngineConfig(device="cpu")).positive_proba(["great game love it", "boring"])
    np.testing.assert_allclose([rows["1"]["positive_prob"], rows["3"]["positive_prob"]], alone, atol=1e-5)


def test_other_languages_route_to_the_multilingual_model(head_dir, seqcls_dir, tmp_path):
    from shoplake.ml.sentiment import Router, parse_model_map

    router = Router(parse_model_map(f"en={head_dir},*={seqcls_dir}"), EngineConfig(device="cpu", batch_size=2))
    out = str(tmp_path / "enriched" / "ds=2019-03-01")
    res = score_partition(router, _lang_partition(tmp_path), out)
    assert (res["scored"], res["unsupported_language"]) == (4, 0)
    assert set(res["models"]) == {"en", "*"}
    rows = {r["recommendationid"]: r for r in read_partition(out).to_pylist()}
    assert {rid: rows[rid]["model_language"] for rid in rows} == {"1": "en", "2": "*", "3": "en", "4": "*"}
    assert rows["2"]["model_id"] == seqcls_dir
    multi = load_classifier(seqcls_dir, cfg=EngineConfig(device="cpu")).positive_proba(["fun", "not good"])
    np.testing.assert_allclose([rows["2"]["positive_prob"], rows["4"]["positive_prob"]], multi, atol=1e-5)


def test_a_model_is_loaded_only_when_a_language_needs_it(head_dir, tmp_path):
    from shoplake.ml.sentiment import Router, parse_model_map

    router = Router(parse_model_map(f"en={head_dir},*=/nonexistent/model@r1"), EngineConfig(device="cpu"))
    src = str(tmp_path / "curated" / "ds=2019-03-02")
    write_partition(pa.table({"recommendationid": ["1"], "review_text": ["fun"], "language_code": ["en"]}), src)
    res = score_partition(router, src, str(tmp_path / "enriched" / "ds=2019-03-02"))
    assert res["models"] == {"en": "test/tiny-head@r1"}  # the * model was never needed, never loaded


def test_a_missing_lake_model_says_it_is_missing_and_how_to_create_it(tmp_path):
    missing = str(tmp_path / "lake" / "model" / "sentiment_head")
    with pytest.raises(FileNotFoundError, match=r"does not exist .*`make sentiment-model`"):
        load_classifier(missing, revision="714eb0f", cfg=EngineConfig(device="cpu"))
    with pytest.raises(ValueError, match="needs a pinned revision"):  # a hub id without its revision
        load_classifier("org/some-model", cfg=EngineConfig(device="cpu"))
