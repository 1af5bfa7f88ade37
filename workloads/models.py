"""The layer families people train (section 3-6-1: Dense for vectors, LSTM for sequences, Conv2D for
images; section 3-6-2, figure 3.9: the Transformer), as small Keras 3 models, with synthetic data whose
labels come from a fixed random teacher, so that there is something to learn. Nothing is downloaded.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np

CLASSES = 10
"""Classes of the chapter's models' synthetic labels; a reference model says its own (ModelSpec.classes)."""


@dataclass(frozen=True)
class ModelSpec:
    """A model family member: how to build it, what its inputs look like, and where it comes from."""

    build: Callable[[], keras.Model]
    input_shape: tuple[int, ...]
    tokens: int | None  # vocabulary size for integer token inputs; None for float inputs
    section: str
    description: str
    classes: int = CLASSES


def _classifier(classes: int = CLASSES) -> keras.layers.Layer:
    """The softmax output, in float32 under a mixed-precision policy, as Keras's mixed-precision guide
    advises; in the policy's own dtype otherwise (float64 for the checks' reference twin)."""
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    return keras.layers.Dense(classes, activation="softmax", dtype="float32" if mixed else None)


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


IMAGENET_CLASSES = 1000
BERT_VOCABULARY = 30522
BERT_LENGTH = 128


def _resnet50() -> keras.Model:
    """ResNet-50 as keras.applications builds it (weights=None: nothing is downloaded), 224x224x3 in, with
    its classifier head, global average pooling then a 1000-way softmax, made by _classifier so that it
    stays float32 under a mixed policy. The same graph as include_top=True."""
    base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(224, 224, 3), pooling="avg")
    return keras.Model(base.input, _classifier(IMAGENET_CLASSES)(base.output), name="resnet50")


def _bert_base(layers: int = 12, width: int = 768, heads: int = 12, inner: int = 3072,
               vocabulary: int = BERT_VOCABULARY, length: int = BERT_LENGTH, classes: int = 2) -> keras.Model:
    """A BERT-base-sized encoder (Devlin et al. 2018: 12 layers, hidden 768, 12 heads, feed-forward 3072,
    GELU, post-layer normalisation), built from Keras layers, over 128 tokens of a 30522-word vocabulary:
    the chapter's Transformer block (figure 3.9) twelve times at BERT's width. No dropout (the checks
    compare one deterministic step), no segment embeddings (one segment); a sequence classifier on the
    first token through BERT's tanh pooler."""
    tokens = keras.Input((length,), dtype="int32")
    x = PositionEmbedding(length, width)(keras.layers.Embedding(vocabulary, width)(tokens))
    x = keras.layers.LayerNormalization(epsilon=1e-12)(x)
    for _ in range(layers):
        attended = keras.layers.MultiHeadAttention(num_heads=heads, key_dim=width // heads)(x, x)
        x = keras.layers.LayerNormalization(epsilon=1e-12)(x + attended)
        fed = keras.layers.Dense(inner, activation="gelu")(x)
        x = keras.layers.LayerNormalization(epsilon=1e-12)(x + keras.layers.Dense(width)(fed))
    pooled = keras.layers.Dense(width, activation="tanh")(x[:, 0])
    return keras.Model(tokens, _classifier(classes)(pooled), name="bert_base")


MODELS: dict[str, ModelSpec] = {
    "mlp": ModelSpec(_mlp((32, 64, 32)), (784,), None, "3-6-1", "the chapter's 784-32-64-32-10 Dense stack"),
    "mlp_wide": ModelSpec(_mlp((512, 512)), (784,), None, "3-6-1", "784-512-512-10 Dense stack"),
    "cnn28": ModelSpec(_cnn((28, 28, 1)), (28, 28, 1), None, "3-6-1", "two Conv2D+pooling on 28x28x1 images"),
    "cnn32": ModelSpec(_cnn((32, 32, 3)), (32, 32, 3), None, "3-6-1", "two Conv2D+pooling on 32x32x3 images"),
    "lstm": ModelSpec(_lstm, (32, 16), None, "3-6-1", "LSTM(64) over 32 steps of 16 features"),
    "transformer": ModelSpec(_transformer, (32,), 1000, "3-6-2", "one encoder block over 32 tokens"),
    # the reference models (workloads/reference_models.py): the families above at the sizes people train
    "resnet50": ModelSpec(_resnet50, (224, 224, 3), None, "3-6-1", "ResNet-50 on 224x224x3 images, 1000 classes",
                          IMAGENET_CLASSES),
    "bert_base": ModelSpec(_bert_base, (BERT_LENGTH,), BERT_VOCABULARY, "3-6-2",
                           "a BERT-base-sized encoder (12 x 768, 12 heads) over 128 tokens, 2 classes", 2),
}


def forward_flops(model: keras.Model) -> float:
    """Floating-point operations of one sample's forward pass, counted where the arithmetic is: 2 per
    multiply-add of Conv2D and Dense layers, and of MultiHeadAttention's four projections and its two
    products (scores and the weighted sum); normalisation, activations, pooling and the softmax, a few
    percent, are left out. ResNet-50 at 224x224: 7.72 GFLOP; the BERT-base-sized encoder at 128 tokens:
    22.35 GFLOP."""
    total = 0.0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, channels = layer.output.shape
            total += 2.0 * height * width * channels * math.prod(layer.kernel_size) * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.Dense):
            total += 2.0 * math.prod(layer.output.shape[1:-1]) * layer.units * layer.input.shape[-1]
        elif isinstance(layer, keras.layers.MultiHeadAttention):  # self-attention: queries and keys alike
            _, length, width = layer.output.shape
            inner = layer.num_heads * layer.key_dim
            total += 4 * 2.0 * length * width * inner + 2 * 2.0 * length * length * inner
    return total


TEACHER_FEATURES = 4096
"""The teacher reads at most this many features: a larger input (ResNet-50's 150528 values, BERT's
30522-word bag of tokens) is summed over contiguous runs of features first, so that the teacher's
matrix stays small (150528 x 1000 in float64 would be 1.2 GB)."""


def synthetic_data(model: str, samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs for `model` and integer labels in [0, classes) from a fixed random linear teacher.

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
    if features.shape[1] > TEACHER_FEATURES:
        starts = np.linspace(0, features.shape[1], TEACHER_FEATURES, endpoint=False).astype(int)
        features = np.add.reduceat(features, starts, axis=1)
    teacher = np.random.default_rng(12345).standard_normal((features.shape[1], spec.classes))
    labels = np.argmax(features @ teacher, axis=1).astype(np.int32)
    return x, labels
