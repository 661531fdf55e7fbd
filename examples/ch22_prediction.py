"""Chapter 22: prediction / inference — a saved Fashion-MNIST model labels test images and your own picture.

The book's code with only its imports changed, and OpenCV replaced: images are read with
nnfs_gpu.datasets.read_png (8-bit PNG; colour becomes gray) and shrunk to 28x28 by the plain-NumPy
area averaging in resize() below, where the book calls cv2.resize. Predicts with the model that
examples/ch21_saving_loading.py saves (--model): first on the first test images of --data, then
on --image PATH when given (a photo of one garment on a light background, as the book's
pants.png). Runs on the backend that NNFS_GPU_BACKEND names ('auto' when unset: CuPy on a usable
GPU, NumPy otherwise).
"""

import argparse
import sys
from pathlib import Path

import nnfs

import nnfs_gpu
from nnfs_gpu.book import *  # noqa: F401,F403  (the book's class names, and np)
from nnfs_gpu.datasets import FASHION_MNIST_LABELS, load_mnist_dataset, read_png

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--data", default="fashion_mnist_images", help="the Fashion-MNIST folder (default: fashion_mnist_images)")
parser.add_argument("--model", default="fashion_mnist.model", help="the saved model (default: fashion_mnist.model)")
parser.add_argument("--image", help="a PNG image to label (optional)")
parser.add_argument("--samples", type=int, default=5, help="how many test images to label (default: 5)")
args = parser.parse_args()


def resize(image, size=(28, 28)):
    """``image`` (H, W) resized to ``size`` (width, height, as cv2.resize takes it) by averaging the
    input pixels each output pixel covers (at least one), rounded back to uint8."""
    height, width = image.shape
    out_width, out_height = size
    rows = [(r * height // out_height, max((r + 1) * height // out_height, r * height // out_height + 1)) for r in range(out_height)]
    cols = [(c * width // out_width, max((c + 1) * width // out_width, c * width // out_width + 1)) for c in range(out_width)]
    pixels = image.astype(np.float64)
    resized = [[pixels[r0:r1, c0:c1].mean() for c0, c1 in cols] for r0, r1 in rows]
    return np.rint(np.array(resized)).astype(np.uint8)


nnfs.init()
print(f"backend: {nnfs_gpu.get_backend().describe()}")

# Label index to label name relation
fashion_mnist_labels = FASHION_MNIST_LABELS

# Read the test dataset (only needed when there is no --image)
try:
    X_test, y_test = load_mnist_dataset("test", args.data)
except FileNotFoundError as error:
    if not args.image:
        print(error)
        print("Or pass --image PATH to label a picture of your own.")
        sys.exit(0)
    X_test = None

if not Path(args.model).is_file():
    print(f"no saved model at {args.model}: train and save one first with")
    print(f"  python examples/ch21_saving_loading.py --data {args.data} --model {args.model}")
    sys.exit(0)

# Load the model
model = Model.load(args.model)

if X_test is not None:
    # Scale and reshape samples
    X_test = (X_test.reshape(X_test.shape[0], -1).astype(np.float32) - 127.5) / 127.5

    # Predict on the first samples from validation dataset
    # and print the result
    confidences = model.predict(X_test[: args.samples])

    # Get prediction instead of confidence levels
    predictions = model.output_layer_activation.predictions(confidences)

    # Print the predicted labels, then the true ones
    for prediction, truth in zip(predictions, y_test[: args.samples]):
        print(f"{fashion_mnist_labels[prediction]} (true: {fashion_mnist_labels[truth]})")

if args.image:
    # Read an image
    image_data = read_png(args.image)

    # Resize to the same size as Fashion MNIST images
    image_data = resize(image_data, (28, 28))

    # Invert image colors
    image_data = 255 - image_data

    # Reshape and scale pixel data
    image_data = (image_data.reshape(1, -1).astype(np.float32) - 127.5) / 127.5

    # Predict on the image
    confidences = model.predict(image_data)

    # Get prediction instead of confidence levels
    predictions = model.output_layer_activation.predictions(confidences)

    # Get label name from label index
    prediction = fashion_mnist_labels[predictions[0]]

    print(f"{args.image}: {prediction}")
