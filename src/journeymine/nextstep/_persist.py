def load_next_step_model(path): raise NotImplementedError
