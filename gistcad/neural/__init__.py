"""The deep-learning genotype-and-risk model: crops in, genotype probabilities and risk out.

- :mod:`~gistcad.neural.crop` — ``tumour_crop(image, mask, settings) -> Crop`` and
  ``to_image_grid``; :mod:`~gistcad.neural.crop_cache` — ``CropCache``.
- :mod:`~gistcad.neural.network` — ``ModelConfig``, ``build_model`` (MONAI EfficientNet-B0 or
  DenseNet121, 4 genotype logits + 1 risk score).
- :mod:`~gistcad.neural.augment`, :mod:`~gistcad.neural.loss`, :mod:`~gistcad.neural.metrics`,
  :mod:`~gistcad.neural.fitting` — ``TrainConfig``, ``train_model -> TrainResult``.
- :mod:`~gistcad.neural.inference` — ``predict -> Predictions``, ``predict_mean`` (a seed
  ensemble and test-time views); :mod:`~gistcad.neural.gradcam` — ``gradcam``;
  :mod:`~gistcad.neural.weights` — ``save_weights``, ``load_model``, ``load_models`` (checksum
  first).
"""
