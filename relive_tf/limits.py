"""How much one command makes at most. The library checks these and the CLI's flags state them
as bounds in their help, which must print without loading TensorFlow."""

# `relive generate --num`: the videos' noise is drawn at once (so that a seed gives the same videos
# whatever the batch), 4 bytes a value, and each video is a file of its own.
GENERATED_VIDEOS = 10_000

# `relive relive --num`: videos side by side in one file; 64 of 64x64 make a frame 4,096 pixels
# wide (a GIF's frame stops at 65,535), and the served relive_image signature takes as many.
RELIVED_VIDEOS = 64

# `relive predict --future`: every frame stays in memory until the one output file is written.
PREDICTED_FRAMES = 1000

# `relive gallery --num`: videos (relived photos, continued clips) a workdir's section shows.
GALLERY_VIDEOS = 64
