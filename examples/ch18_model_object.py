"""Chapter 18: the Model object — the chapter-15 dropout classifier built, trained and validated through Model.

The book's code with only its imports changed: ``nnfs_gpu.book.ch18`` gives chapter 18's Model,
which trains on the whole set at once, prints a line every ``print_every`` epochs and validates
once at the end (the final Model of ``nnfs_gpu.book`` prints chapter 19's lines). Runs on the
backend that NNFS_GPU_BACKEND names ('auto' when unset: CuPy on a usable GPU, NumPy otherwise).
Pass --epochs N for a shorter run.
"""

import argparse

import nnfs

import nnfs_gpu
from nnfs_gpu.book.ch18 import *  # noqa: F401,F403  (chapter 18's class names, and np)
from nnfs_gpu.datasets import spiral_data

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=10000, help="epochs to train (default: 10000, as the book)")
args = parser.parse_args()

nnfs.init()
print(f"backend: {nnfs_gpu.get_backend().describe()}")

# Create dataset
X, y = spiral_data(samples=1000, classes=3)
X_test, y_test = spiral_data(samples=100, classes=3)

# Instantiate the model
model = Model()

# Add layers
model.add(Layer_Dense(2, 512, weight_regularizer_l2=5e-4, bias_regularizer_l2=5e-4))
model.add(Activation_ReLU())
model.add(Layer_Dropout(0.1))
model.add(Layer_Dense(512, 3))
model.add(Activation_Softmax())

# Set loss, optimizer and accuracy objects
model.set(
    loss=Loss_CategoricalCrossentropy(),
    optimizer=Optimizer_Adam(learning_rate=0.05, decay=5e-5),
    accuracy=Accuracy_Categorical(),
)

# Finalize the model
model.finalize()

# Train the model
model.train(X, y, validation_data=(X_test, y_test), epochs=args.epochs, print_every=100)
