create model imported from file 'models/cnn.onnx' with (output = 'class')
-- renders as:
CREATE MODEL imported FROM FILE 'models/cnn.onnx' WITH (output = 'class')
