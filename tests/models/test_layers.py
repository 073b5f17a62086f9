"""The shared MLP (parameter names the shipped bundles hold) and the dtype reader."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from genms.models.dtypes import COMPUTE_NAMES, FLOAT_NAMES, parse_dtype
from genms.models.layers import MLP


def _names(params) -> list[str]:
    return sorted(jax.tree_util.keystr(p) for p, _ in
                  jax.tree_util.tree_flatten_with_path(params)[0])


def test_plain_mlp_keeps_the_denoiser_names():
    params = MLP((8, 4)).init(jax.random.key(0), jnp.ones((2, 3)))["params"]
    assert _names(params) == ["['dense_0']['bias']", "['dense_0']['kernel']",
                              "['dense_1']['bias']", "['dense_1']['kernel']"]


def test_normalised_mlp_keeps_the_energy_gnn_names_and_order():
    mlp = MLP((8, 4), "swish", norm=True, pre_norm=True)
    x = jax.random.normal(jax.random.key(1), (2, 3))
    params = mlp.init(jax.random.key(0), x)["params"]
    assert sorted(params) == ["Dense_0", "Dense_1", "LayerNorm_0", "LayerNorm_1"]
    assert params["LayerNorm_0"]["scale"].shape == (3,)  # the pre-norm acts on the input
    assert params["LayerNorm_1"]["scale"].shape == (8,)
    p = params
    h = jax.nn.swish(_layer_norm(_layer_norm(x, p["LayerNorm_0"]) @ p["Dense_0"]["kernel"]
                                 + p["Dense_0"]["bias"], p["LayerNorm_1"]))
    want = h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"]
    np.testing.assert_allclose(mlp.apply({"params": params}, x), want, rtol=1e-5, atol=1e-5)


def _layer_norm(x, p, eps=1e-6):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + eps) * p["scale"] + p["bias"]


def test_parse_dtype_names_and_refusals():
    assert parse_dtype("float16") == np.float16 and parse_dtype("bfloat16") == jnp.bfloat16
    want = jnp.bfloat16 if jax.default_backend() != "cpu" else jnp.float32
    assert parse_dtype("auto", COMPUTE_NAMES) == want
    with pytest.raises(ValueError, match="compute dtype must be one of float32, bfloat16, auto"):
        parse_dtype("float16", COMPUTE_NAMES, "compute dtype")
    with pytest.raises(ValueError, match="bundle dtype"):
        parse_dtype("auto", FLOAT_NAMES, "bundle dtype")
