"""Video data: the built-in synthetic clips, video files, dataset layouts, shards and tf.data."""
