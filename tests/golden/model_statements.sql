alter model mnist_cnn set alias production = 3
-- renders as:
ALTER MODEL mnist_cnn SET ALIAS production = 3
