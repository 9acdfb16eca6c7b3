// Package schema mirrors the fields of step-runner's step definition that the runner
// reads and writes; it is used only to (de)serialise the `run:` keyword.
package schema

type StepInputs map[string]any

type Step struct {
	Name   *string           `json:"name,omitempty" yaml:"name,omitempty"`
	Step   string            `json:"step,omitempty" yaml:"step,omitempty"`
	Script string            `json:"script,omitempty" yaml:"script,omitempty"`
	Inputs StepInputs        `json:"inputs,omitempty" yaml:"inputs,omitempty"`
	Env    map[string]string `json:"env,omitempty" yaml:"env,omitempty"`
	Run    []Step            `json:"run,omitempty" yaml:"run,omitempty"`
}
