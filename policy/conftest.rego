# guardrun's verdict for conftest: `conftest test --namespace
# guardrun.conftest --policy policy/ input.json` (input.json from `guardrun
# check --policy-input`) reports exactly the findings guardrun reports,
# exceptions applied, one per line as "[rule] stage: message".
#
# conftest run on --namespace guardrun.pipeline instead queries the raw
# deny and warn rules: the same findings before exceptions, because
# conftest waives by rule name (its own `exception` convention), not by the
# {"rule", "stage"} objects guardrun's exceptions are.
package guardrun.conftest

import data.guardrun.pipeline

deny contains conftest_finding(v) if {
	some v in pipeline.violations
	v.severity == "deny"
}

warn contains conftest_finding(v) if {
	some v in pipeline.violations
	v.severity == "warn"
}

conftest_finding(v) := {"msg": sprintf("[%s] %s: %s", [v.rule, stage_shown(v.stage), v.msg]), "rule": v.rule, "stage": v.stage}

stage_shown(s) := s if s != ""

stage_shown("") := "(pipeline)"
