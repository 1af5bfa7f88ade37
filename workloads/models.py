"""The layer families people train (section 3-6-1: Dense for vectors, LSTM for sequences, Conv2D for
images; section 3-6-2, figure 3.9: the Transformer), as small Keras 3 models, with synthetic data whose
labels come from a fixed random teacher, so that there is something to learn. Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

CLASSES = 10


@dataclass(frozen=True)
class ModelSpec:
    """A model family member: how to build it, what its inputs look like, and where it comes from."""

    build: Callable[[], keras.Model]
    input_shape: tuple[int, ...]
    tokens: int | None  # vocabulary size for integer token inputs; None for float inputs
    section: str
    description: str


def _classifier() -> keras.layers.Layer:
    """The softmax output, in float32 under a mixed-precision policy, as Keras's mixed-precision guide
    advises; in the policy's own dtype otherwise (float64 for the checks' reference twin)."""
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    return keras.layers.Dense(CLASSES, activation="softmax", dtype="float32" if mixed else None)


def _mlp(units: tuple[int, ...]) -> Callable[[], keras.Model]:
    def build() -> keras.Model:
        layers = [keras.layers.Dense(u, activation="relu") for u in units]
        return keras.Sequential([keras.Input((784,)), *layers, _classifier()])

    return build


def _cnn(shape: tuple[int, int, int]) -> Callable[[], keras.Model]:
    def build() -> keras.Model:
        return keras.Sequential([
            keras.Input(shape),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            _classifier(),
        ])

    return build


def _lstm() -> keras.Model:
    """Default activations, no dropout, no recurrent dropout: the configuration cuDNN can run on a GPU."""
    return keras.Sequential([keras.Input((32, 16)), keras.layers.LSTM(64), _classifier()])


class PositionEmbedding(keras.layers.Layer):
    """A learned embedding of each position, added to the token embeddings. (An Embedding layer called on
    keras.ops.arange(length) is evaluated once when the model is built: a constant, never trained.)"""

    def __init__(self, length: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.length, self.width = length, width

    def build(self, input_shape):
        self.positions = self.add_weight(shape=(self.length, self.width), initializer="uniform", name="positions")

    def call(self, x):
        return x + keras.ops.cast(self.positions, x.dtype)

    def get_config(self):
        return {**super().get_config(), "length": self.length, "width": self.width}


def _transformer(vocabulary: int = 1000, length: int = 32, width: int = 64, heads: int = 4) -> keras.Model:
    """One encoder block (figure 3.9): attention and feed-forward, each with a residual connection and
    LayerNormalization, over token and position embeddings; pooled into a classifier."""
    tokens = keras.Input((length,), dtype="int32")
    x = PositionEmbedding(length, width)(keras.layers.Embedding(vocabulary, width)(tokens))
    attended = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads)(x, x)
    x = keras.layers.LayerNormalization()(x + attended)
    fed = keras.layers.Dense(2 * width, activation="relu")(x)
    x = keras.layers.LayerNormalization()(x + keras.layers.Dense(width)(fed))
    x = keras.layers.GlobalAveragePooling1D()(x)
    return keras.Model(tokens, _classifier()(x))


MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec(_mlp((32, 64, 32)), (784,), None, "3-6-1", "the chapter's 784-32-64-32-10 Dense stack"),
    "mlp_wide": ModelSpec(_mlp((512, 512)), (784,), None, "3-6-1", "784-512-512-10 Dense stack"),
    "cnn28": ModelSpec(_cnn((28, 28, 1)), (28, 28, 1), None, "3-6-1", "two Conv2D+pooling on 28x28x1 images"),
    "cnn32": ModelSpec(_cnn((32, 32, 3)), (32, 32, 3), None, "3-6-1", "two Conv2D+pooling on 32x32x3 images"),
    "lstm": ModelSpec(_lstm, (32, 16), None, "3-6-1", "LSTM(64) over 32 steps of 16 features"),
    "transformer": ModelSpec(_transformer, (32,), 1000, "3-6-2", "one encoder block over 32 tokens"),
}


def synthetic_data(model: str, samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs for `model` and integer labels in [0, 10) from a fixed random linear teacher.

    Float inputs are standard normal; token inputs uniform over the vocabulary, and the teacher reads
    their bag of tokens. The same seed gives the same data on every machine.
    """
    spec = MODELS[model]
    rng = np.random.default_rng(seed)
    if spec.tokens:
        x = rng.integers(0, spec.tokens, size=(samples, *spec.input_shape), dtype=np.int32)
        features = np.stack([np.bincount(row, minlength=spec.tokens) for row in x]).astype(np.float64)
    else:
        x = rng.standard_normal((samples, *spec.input_shape)).astype(np.float32)
        features = x.reshape(samples, -1).astype(np.float64)
    teacher = np.random.default_rng(12345).standard_normal((features.shape[1], CLASSES))
    labels = np.argmax(features @ teacher, axis=1).astype(np.int32)
    return x, labels
