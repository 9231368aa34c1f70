class AbstractParameterType:
    def __init__(self, sample_input=None):
        self.sample_input = sample_input

    def deserialize_input(self, value):
        return value

    def serialize_output(self, value):
        return value
