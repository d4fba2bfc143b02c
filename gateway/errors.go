package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"meshfs/content"
)

// ErrBadCAR is returned by CARReader for a stream that is not a CARv1
// within the reader's limits. A stream cut short also wraps
// io.ErrUnexpectedEOF.
var ErrBadCAR = errors.New("gateway: malformed CAR")

// Errors of the request itself; statusOf maps them to HTTP statuses.
var (
	errBadRequest    = errors.New("gateway: bad request")
	errNoPath        = errors.New("gateway: no such path")
	errNotAcceptable = errors.New("gateway: no acceptable response format")
	errNotUnixFS     = errors.New("gateway: not a UnixFS file, directory or symlink")
)

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// statusOf returns the HTTP status for a request that failed with err
// before its response started.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errNotAcceptable):
		return http.StatusNotAcceptable
	case errors.Is(err, errNoPath), errors.Is(err, content.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	case errors.Is(err, errNotUnixFS):
		return http.StatusNotImplemented
	case errors.Is(err, content.ErrStoreClosed):
		return http.StatusServiceUnavailable
	case errors.Is(err, content.ErrHashMismatch), errors.Is(err, content.ErrCorruptBlock),
		errors.Is(err, content.ErrMalformed), errors.Is(err, content.ErrNotFile),
		errors.Is(err, content.ErrUnsupportedCID), errors.Is(err, content.ErrBlockTooLarge):
		// The blocks at hand are bad or unusable: the content, or whoever
		// served it, is at fault.
		return http.StatusBadGateway
	}
	return http.StatusInternalServerError
}

// errorText is the plain-text body for a failed request. Client errors
// say what was wrong with the request; server errors say what kind of
// failure it was, without internal detail such as store paths.
func errorText(status int, err error) string {
	if status < 500 {
		return err.Error()
	}
	var what string
	switch {
	case status == http.StatusGatewayTimeout:
		what = "timed out fetching blocks"
	case status == http.StatusNotImplemented:
		what = "the content is not UnixFS; ask for format=raw or format=car"
	case status == http.StatusServiceUnavailable:
		what = "the block store is closed"
	case errors.Is(err, content.ErrHashMismatch), errors.Is(err, content.ErrCorruptBlock):
		what = "a block failed verification"
	case status == http.StatusBadGateway:
		what = "the content is malformed or uses unsupported CIDs"
	default:
		what = "internal error"
	}
	return http.StatusText(status) + ": " + what
}
