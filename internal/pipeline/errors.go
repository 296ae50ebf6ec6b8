// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// StatusError is an error that carries the status the client should see,
// in the manner of Caddy's HandlerError. Stages return it for failures that
// are not the client's fault but have a better answer than 500 (e.g. 503
// while the limit store is down).
type StatusError struct {
	Status int
	Type   string
	Code   string
	// Message is client-safe; Err is logged only.
	Message string
	Err     error
}

func (e *StatusError) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *StatusError) Unwrap() error { return e.Err }

// DecisionFor turns a stage error into the Decision that fails the request
// closed.
func DecisionFor(stage string, err error) *Decision {
	var se *StatusError
	if errors.As(err, &se) {
		return &Decision{Status: se.Status, Type: se.Type, Code: se.Code, Message: se.Message, Stage: stage, Rule: "error", Reason: err.Error()}
	}
	return &Decision{
		Status: http.StatusInternalServerError, Type: TypeServer, Code: "internal_error",
		Message: "The gateway could not process the request.", Stage: stage, Rule: "error", Reason: err.Error(),
	}
}

type errorBody struct {
	Error errorFields `json:"error"`
}

type errorFields struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    string  `json:"code"`
}

// WriteError writes an OpenAI-compatible error body.
func WriteError(w http.ResponseWriter, status int, typ, code, message string) {
	b, _ := json.Marshal(errorBody{Error: errorFields{Message: message, Type: typ, Code: code}})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)+1))
	h.Del("Content-Encoding")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// WriteDecision writes d to the client, with its extra headers.
func WriteDecision(w http.ResponseWriter, d *Decision) {
	for k, vs := range d.Header {
		w.Header()[k] = vs
	}
	WriteError(w, d.Status, d.Type, d.Code, d.Message)
}
