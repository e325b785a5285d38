"""Plugin records, one module per area (dp: noise/clip/accountant; risk: suppressor/inference)."""
