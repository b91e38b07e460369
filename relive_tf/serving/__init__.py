"""TF Serving: servables of trained models, and publishing them as versioned SavedModels."""
