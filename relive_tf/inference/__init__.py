"""Using trained models: videos from noise, a photo relived, a real video continued."""
