"""Operations: deploy, converge, drain/undrain and the controller, over the Cluster port."""
