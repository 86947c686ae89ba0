"""The vision studies, run on the workbench's own compiler: resolution (Yan, Luo, Ceze 2021) and the
augmentation probe (Yan & Huang 2020). Toy analogues: no ImageNet and no hub weights offline."""
