"""Chapter 17: regression — a linear output and mean squared error fitted to a sine wave.

The book's code with only its imports changed (to ``nnfs_gpu.book.ch17``, whose ``Layer_Dense``
starts at chapter 17's ``0.1 * randn``), and two more things: the accuracy line subtracts host
targets from the outputs, which a GPU refuses, so it first brings the outputs to the host with
``np.asarray(...)`` (the book's ``np`` here is NumPy that fetches device arrays); and the book's
closing matplotlib plot becomes a printed pass over the test data (``--plot`` still draws it, with
``nnfs_gpu.plot``: in a window where there is a display, else into a PNG file, saying where). Runs on the backend that NNFS_GPU_BACKEND names ('auto' when unset: CuPy
on a usable GPU, NumPy otherwise). Pass --epochs N for a shorter run.
"""

import argparse

import nnfs

import nnfs_gpu
from nnfs_gpu.book.ch17 import *  # noqa: F401,F403  (chapter 17's class names, and np)
from nnfs_gpu.datasets import sine_data

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=10001, help="epochs to train (default: 10001, as the book)")
parser.add_argument("--plot", action="store_true",
                    help="plot the test data and the predictions (needs matplotlib): in a window where there is a display, "
                         "else into ch17_regression.png")
args = parser.parse_args()

nnfs.init()
print(f"backend: {nnfs_gpu.get_backend().describe()}")

# Create dataset
X, y = sine_data()

# Create Dense layer with 1 input feature and 64 output values
dense1 = Layer_Dense(1, 64)
# Create ReLU activation (to be used with Dense layer)
activation1 = Activation_ReLU()
# Create second Dense layer with 64 input features (as we take output
# of previous layer here) and 64 output values
dense2 = Layer_Dense(64, 64)
# Create ReLU activation (to be used with Dense layer)
activation2 = Activation_ReLU()
# Create third Dense layer with 64 input features (as we take output
# of previous layer here) and 1 output value
dense3 = Layer_Dense(64, 1)
# Create Linear activation
activation3 = Activation_Linear()
# Create loss function
loss_function = Loss_MeanSquaredError()
# Create optimizer
optimizer = Optimizer_Adam(learning_rate=0.005, decay=1e-3)

# Accuracy precision for accuracy calculation
# There are no really accuracy factor for regression problem,
# but we can simulate/approximate it. We'll calculate it by checking
# how many values have a difference to their ground truth equivalent
# less than given precision
# We'll calculate this precision as a fraction of standard deviation
# of al the ground truth values
accuracy_precision = np.std(y) / 250

# Train in loop
for epoch in range(args.epochs):
    # Perform a forward pass of our training data through this layer
    dense1.forward(X)
    activation1.forward(dense1.output)
    dense2.forward(activation1.output)
    activation2.forward(dense2.output)
    dense3.forward(activation2.output)
    activation3.forward(dense3.output)

    # Calculate the data loss
    data_loss = loss_function.calculate(activation3.output, y)
    # Calculate regularization penalty
    regularization_loss = (
        loss_function.regularization_loss(dense1)
        + loss_function.regularization_loss(dense2)
        + loss_function.regularization_loss(dense3)
    )

    # Calculate overall loss
    loss = data_loss + regularization_loss

    # Calculate accuracy from output of activation2 and targets
    # To calculate it we're taking absolute difference between
    # predictions and ground truth values and compare if differences
    # are lower than given precision value
    predictions = np.asarray(activation3.output)
    accuracy = np.mean(np.absolute(predictions - y) < accuracy_precision)

    if not epoch % 100:
        print(
            f"epoch: {epoch}, "
            + f"acc: {accuracy:.3f}, "
            + f"loss: {loss:.3f} ("
            + f"data_loss: {data_loss:.3f}, "
            + f"reg_loss: {regularization_loss:.3f}), "
            + f"lr: {optimizer.current_learning_rate}"
        )

    # Backward pass
    loss_function.backward(activation3.output, y)
    activation3.backward(loss_function.dinputs)
    dense3.backward(activation3.dinputs)
    activation2.backward(dense3.dinputs)
    dense2.backward(activation2.dinputs)
    activation1.backward(dense2.dinputs)
    dense1.backward(activation1.dinputs)

    # Update weights and biases
    optimizer.pre_update_params()
    optimizer.update_params(dense1)
    optimizer.update_params(dense2)
    optimizer.update_params(dense3)
    optimizer.post_update_params()

# Test the model on the book's test data (the same sine wave)
X_test, y_test = sine_data()

dense1.forward(X_test)
activation1.forward(dense1.output)
dense2.forward(activation1.output)
activation2.forward(dense2.output)
dense3.forward(activation2.output)
activation3.forward(dense3.output)

loss = loss_function.calculate(activation3.output, y_test)
predictions = np.asarray(activation3.output)
accuracy = np.mean(np.absolute(predictions - y_test) < accuracy_precision)
print(f"validation, acc: {accuracy:.3f}, loss: {loss:.3f}")

if args.plot:
    from nnfs_gpu import plot

    try:  # a window, as the book's plt.show(), where there is a display; else a file
        written = plot.show(plot.plot_fit(X_test, y_test, predictions), "ch17_regression.png")
    except plot.PlotUnavailableError as error:
        print(f"--plot: {error}")
    else:
        if written is not None:
            print(f"no display: plotted the test data and the predictions to {written}")
