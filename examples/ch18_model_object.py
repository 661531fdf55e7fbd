"""Chapter 18: the Model object — the chapter-15 dropout classifier built, trained and validated through Model.

The book's code with only its imports changed, except for the printing: nnfs_gpu's Model.train is
the final (chapter 19+) one, which prints `epoch:`/`step:`/`training,` lines every epoch and counts
print_every in batch steps. To print as chapter 18 does (one line every 100 epochs, then one
validation line), this trains with verbose=False and prints the chapter-18 lines from the history
that train returns. Runs on the backend that NNFS_GPU_BACKEND names ('auto' when unset: CuPy on a
usable GPU, NumPy otherwise). Pass --epochs N for a shorter run.
"""

import argparse

import nnfs

import nnfs_gpu
from nnfs_gpu.book import *  # noqa: F401,F403  (the book's class names, and np)
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
print_every = 100
history = model.train(X, y, validation_data=(X_test, y_test), epochs=args.epochs, print_every=print_every, verbose=False)

# Chapter 18's printout: every print_every epochs, then the validation after the last epoch
for epoch in range(1, args.epochs + 1):
    if not epoch % print_every:
        i = epoch - 1
        print(
            f"epoch: {epoch}, "
            + f"acc: {history['accuracy'][i]:.3f}, "
            + f"loss: {history['loss'][i]:.3f} ("
            + f"data_loss: {history['data_loss'][i]:.3f}, "
            + f"reg_loss: {history['regularization_loss'][i]:.3f}), "
            + f"lr: {history['learning_rate'][i]}"
        )
if args.epochs:
    print(f"validation, acc: {history['val_accuracy'][-1]:.3f}, loss: {history['val_loss'][-1]:.3f}")
