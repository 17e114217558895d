"""Pure transforms: DataFrame in → DataFrame out."""
