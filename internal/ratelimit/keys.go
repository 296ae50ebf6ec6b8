// SPDX-License-Identifier: Apache-2.0

package ratelimit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/bulwarkai/bulwark/internal/pipeline"
)

// keyKind is what partitions a limit's counter.
type keyKind uint8

const (
	keyIdentity keyKind = iota + 1
	keyTenant
	keyRoute
	keyModel
	keyClientIP
	keyHeader
	keyClaim
)

var keyKindNames = [...]string{keyIdentity: "identity", keyTenant: "tenant", keyRoute: "route", keyModel: "model", keyClientIP: "clientIP", keyHeader: "header", keyClaim: "claim"}

// parseKey splits a validated key spec ("tenant", "header:X-Team").
func parseKey(spec string) (keyKind, string, bool) {
	if name, ok := strings.CutPrefix(spec, "header:"); ok && name != "" {
		return keyHeader, http.CanonicalHeaderKey(name), true
	}
	if name, ok := strings.CutPrefix(spec, "claim:"); ok && name != "" {
		return keyClaim, name, true
	}
	for k, n := range keyKindNames {
		if n != "" && n == spec && k != int(keyHeader) && k != int(keyClaim) {
			return keyKind(k), "", true
		}
	}
	return 0, "", false
}

// keyValue is the partition value of rc for a key; "" when absent (all
// such requests share one counter).
func keyValue(kind keyKind, arg string, rc *pipeline.RequestContext) string {
	switch kind {
	case keyIdentity:
		return rc.Identity.ID
	case keyTenant:
		return rc.Identity.Tenant
	case keyRoute:
		if rc.Route != nil {
			return rc.Route.Name
		}
	case keyModel:
		if rc.LLM != nil {
			return rc.LLM.Model
		}
	case keyClientIP:
		if rc.ClientIP.IsValid() {
			return rc.ClientIP.String()
		}
	case keyHeader:
		if rc.Request != nil {
			if vs := rc.Request.Header[arg]; len(vs) > 0 {
				return vs[0]
			}
		}
	case keyClaim:
		return claimString(rc.Identity.Claims[arg])
	}
	return ""
}

func claimString(v any) string {
	switch c := v.(type) {
	case nil:
		return ""
	case string:
		return c
	case float64:
		return strconv.FormatFloat(c, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(c)
	case json.Number:
		return c.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(b)
}

// hashTag names a partition in store keys. Values come from clients
// (headers, model names), so they are hashed: keys stay short, and no
// value can smuggle braces into the Redis Cluster hash tag. 96 bits make
// collisions between two partitions practically impossible.
func hashTag(kind keyKind, value string) string {
	h := sha256.New()
	h.Write([]byte{byte(kind), 0})
	h.Write([]byte(value))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:12])
}
