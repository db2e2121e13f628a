package main

// bayesianRidgeSpec is not served by this build yet: an empty grid makes modelSpecs leave it out.
func bayesianRidgeSpec() modelSpec { return modelSpec{} }
