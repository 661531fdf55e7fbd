"""Chapter 20: model evaluation — the chapter-19 Fashion-MNIST model, then model.evaluate on test and training data.

The book's code with only its imports changed: create_data_mnist comes from nnfs_gpu.datasets
(NumPy and the standard library, no OpenCV). The data is not downloaded on its own: pass
--download to fetch it the book's way, or see the message printed when --data has none. Runs on
the backend that NNFS_GPU_BACKEND names ('auto' when unset: CuPy on a usable GPU, NumPy
otherwise). Pass --epochs N for a shorter run.
"""

import argparse
import sys

import nnfs

import nnfs_gpu
from nnfs_gpu.book import *  # noqa: F401,F403  (the book's class names, and np)
from nnfs_gpu.datasets import FASHION_MNIST_URL, create_data_mnist, download_fashion_mnist

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=10, help="epochs to train (default: 10, as the book)")
parser.add_argument("--data", default="fashion_mnist_images", help="the Fashion-MNIST folder (default: fashion_mnist_images)")
parser.add_argument("--download", action="store_true", help=f"download {FASHION_MNIST_URL} into --data first")
args = parser.parse_args()


def how_to_get_the_data(problem, retry_hint=True):
    """Says why there is no data and how to get it, then ends the program cleanly (exit status 0)."""
    print(problem)
    if retry_hint:
        print("Or rerun this example with --download (needs access to nnfs.io).")
    sys.exit(0)


nnfs.init()
print(f"backend: {nnfs_gpu.get_backend().describe()}")

if args.download:
    try:
        download_fashion_mnist(args.data)
    except ConnectionError as error:
        how_to_get_the_data(error, retry_hint=False)

# Create dataset
try:
    X, y, X_test, y_test = create_data_mnist(args.data)
except FileNotFoundError as error:
    how_to_get_the_data(error)

# Shuffle the training dataset
keys = np.array(range(X.shape[0]))
np.random.shuffle(keys)
X = X[keys]
y = y[keys]

# Scale and reshape samples
X = (X.reshape(X.shape[0], -1).astype(np.float32) - 127.5) / 127.5
X_test = (X_test.reshape(X_test.shape[0], -1).astype(np.float32) - 127.5) / 127.5

# Instantiate the model
model = Model()

# Add layers
model.add(Layer_Dense(X.shape[1], 128))
model.add(Activation_ReLU())
model.add(Layer_Dense(128, 128))
model.add(Activation_ReLU())
model.add(Layer_Dense(128, 10))
model.add(Activation_Softmax())

# Set loss, optimizer and accuracy objects
model.set(loss=Loss_CategoricalCrossentropy(), optimizer=Optimizer_Adam(decay=1e-3), accuracy=Accuracy_Categorical())

# Finalize the model
model.finalize()

# Train the model
model.train(X, y, validation_data=(X_test, y_test), epochs=args.epochs, batch_size=128, print_every=100)

# Evaluate the model on the test data and, for comparison, on the training data
model.evaluate(X_test, y_test)
model.evaluate(X, y)
