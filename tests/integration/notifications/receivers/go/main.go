// The notifications guide's Go receiver ("3. Audit Logging"), as written there, with only what
// must change to build and run it in the tests:
//   - the guide's `http.Listen AndServe` (a typo that does not compile) is http.ListenAndServe;
//   - it listens on the port in $PORT (hence the "os" import) instead of ":8080".
// Its log.Printf audit line goes to stderr, which the test reads.
// Go webhook receiver
package main

import (
    "encoding/json"
    "log"
    "net/http"
    "os"
)

type RegistryEvent struct {
    ID        string `json:"id"`
    Timestamp string `json:"timestamp"`
    Action    string `json:"action"`
    Target    struct {
        Repository string `json:"repository"`
        Tag        string `json:"tag"`
        Digest     string `json:"digest"`
    } `json:"target"`
    Request struct {
        Addr      string `json:"addr"`
        UserAgent string `json:"useragent"`
    } `json:"request"`
}

func handleEvent(w http.ResponseWriter, r *http.Request) {
    var event RegistryEvent
    if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
        http.Error(w, err.Error(), http.StatusBadRequest)
        return
    }
    
    // Log to your audit system
    log.Printf("[AUDIT] %s: %s %s:%s from %s",
        event.Timestamp,
        event.Action,
        event.Target.Repository,
        event.Target.Tag,
        event.Request.Addr,
    )
    
    w.WriteHeader(http.StatusOK)
}

func main() {
    http.HandleFunc("/registry-events", handleEvent)
    log.Fatal(http.ListenAndServe(":"+os.Getenv("PORT"), nil))
}
