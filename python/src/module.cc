// amlcore._core: the C++ SDK for the pure-Python package amlcore, which gives it azureml's signatures.
#include <pybind11/pybind11.h>

#include "amlcore/version.h"

namespace amlcore::python {
void DefineWorkspace(pybind11::module_& m);
void DefineCompute(pybind11::module_& m);
void DefineModel(pybind11::module_& m);
void DefineWebservice(pybind11::module_& m);
void DefineData(pybind11::module_& m);
}  // namespace amlcore::python

PYBIND11_MODULE(_core, m) {
  m.doc() = "Native core of the amlcore package; use the amlcore modules instead.";
  m.attr("__version__") = amlcore::kVersion;
  amlcore::python::DefineWorkspace(m);
  amlcore::python::DefineCompute(m);
  amlcore::python::DefineModel(m);
  amlcore::python::DefineData(m);
  amlcore::python::DefineWebservice(m);
}
