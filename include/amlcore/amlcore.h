// The amlcore C++ SDK: Azure Machine Learning's deployment object model, run by amlcored.
#ifndef AMLCORE_AMLCORE_H_
#define AMLCORE_AMLCORE_H_

#include "amlcore/compute.h"
#include "amlcore/config_files.h"
#include "amlcore/dataset.h"
#include "amlcore/datastore.h"
#include "amlcore/diagnostics.h"
#include "amlcore/environment.h"
#include "amlcore/error.h"
#include "amlcore/model.h"
#include "amlcore/operation.h"
#include "amlcore/profile.h"
#include "amlcore/version.h"
#include "amlcore/webservice.h"
#include "amlcore/workspace.h"

#endif  // AMLCORE_AMLCORE_H_
