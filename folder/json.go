package folder

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
)

// maxLoadErrors bounds the errors UnmarshalJSON reports one by one.
const maxLoadErrors = 20

// rulesJSON is the JSON form of Rules; see the package documentation.
type rulesJSON struct {
	Config
	Queues   []string  `json:"queues,omitempty"`
	Mappings []Mapping `json:"mappings"`
}

// MarshalJSON implements json.Marshaler: the Config fields that are set, the
// queue mailboxes and every mapping, in the order of Mappings.
func (r *Rules) MarshalJSON() ([]byte, error) {
	r.mu.RLock()
	v := rulesJSON{Config: r.cfg, Mappings: r.mappingsLocked("")}
	for q := range r.queues {
		v.Queues = append(v.Queues, q)
	}
	r.mu.RUnlock()
	slices.Sort(v.Queues)
	return json.Marshal(v)
}

// UnmarshalJSON implements json.Unmarshaler. It replaces the whole rule set
// with the one in data, validated as Add validates: unknown fields, an
// invalid Config or any invalid mapping fail the whole load and leave r
// unchanged. A mapping whose path is outside Inbox loads only when it is
// marked "disabled". The error joins one *Error per bad mapping (with Op
// "load mappings[i]"), so errors.As finds the first and errors.Is each
// reason. At most 20 are listed, then how many more there were.
func (r *Rules) UnmarshalJSON(data []byte) error {
	var v rulesJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("folder: load rules: %w", err)
	}
	if err := v.Config.Validate(); err != nil {
		return err
	}
	nr := &Rules{cfg: v.Config}
	var errs []error
	for _, q := range v.Queues {
		if err := nr.SetQueue(q, true); err != nil {
			errs = append(errs, err)
		}
	}
	for i, mp := range v.Mappings {
		if err := nr.addLocked(fmt.Sprintf("load mappings[%d]", i), mp); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > maxLoadErrors {
		errs = append(errs[:maxLoadErrors:maxLoadErrors],
			fmt.Errorf("folder: load rules: %d more invalid entries", len(errs)-maxLoadErrors))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	r.mu.Lock()
	r.cfg, r.byKey, r.mailboxes, r.queues = nr.cfg, nr.byKey, nr.mailboxes, nr.queues
	r.mu.Unlock()
	return nil
}
