"""Train a digit classifier the TensorFlow way where the images are (Kinetica's TensorFlow MNIST
example: a Keras model on TensorFlow, fitted in one instance on the table's training rows, saved
where inference instances find it).

``mnist_tf_train`` — MODE 'nondistributed': one instance fits the CNN with ``model.fit`` on every
shard's rows and saves it as a TensorFlow SavedModel (``flavor="tensorflow"``), which PREDICT and
``mnist_tf_infer`` run without this code.

Input rows: (pixels FLOAT[n] scaled to 0..1, n a square: 64 for 8x8, 784 for 28x28, label).
Parameters (strings): epochs, batch_size, lr, seed, model (the registry name, default mnist_tf).
"""

import os

# Keras picks its backend when first imported, and this instance runs only this function's code:
# TensorFlow's backend here, whatever the database's other functions use
os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402

from indb import udf  # noqa: E402


def digits_cnn(width: int) -> keras.Model:
    """conv16-conv32-pool-fc64-softmax10 over square images given as flat rows."""
    side = int(round(width ** 0.5))
    if side * side != width:
        raise ValueError(f"mnist_tf_train takes square images; rows of {width} pixels are not")
    return keras.Sequential([
        keras.Input((width,)),
        keras.layers.Reshape((side, side, 1)),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


@udf.function(frame="numpy", params=["epochs", "batch_size", "lr", "seed", "model"])
def mnist_tf_train(ctx, images):
    pixels = np.asarray(images["pixels"], dtype=np.float32)
    labels = np.asarray(images["label"], dtype=np.int64)
    if len(pixels) == 0:
        raise ValueError("mnist_tf_train got no rows: check the input query")
    keras.utils.set_random_seed(int(ctx.params.get("seed", "0")))
    model = digits_cnn(pixels.shape[1])
    model.compile(optimizer=keras.optimizers.Adam(float(ctx.params.get("lr", "0.002"))),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(pixels, labels, epochs=int(ctx.params.get("epochs", "10")),
                        batch_size=int(ctx.params.get("batch_size", "64")), verbose=0)
    loss, accuracy = history.history["loss"][-1], history.history["accuracy"][-1]
    ctx.status(f"trained on {len(pixels)} rows ({keras.backend.backend()}): loss {loss:.4f}, "
               f"accuracy {accuracy:.4f}")
    ctx.models.save(ctx.params.get("model", "mnist_tf"), model, example=pixels[:2],
                    flavor="tensorflow", metrics={"train_loss": loss, "train_accuracy": accuracy,
                                                  "train_rows": len(pixels)})
