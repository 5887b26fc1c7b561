// V8 options the controller's node runs with, wherever tenement starts it: the `ten` script's #!
// line, the systemd unit's ExecStart, and the new controller of a handover.
//
// The controller is mostly idle but allocates in bursts (a batch of spawns, a wake storm). V8's
// young generation grows with such a burst up to 3 x 16 MB and keeps that size afterwards, which was
// about 30 MB of a ~150 MB controller at 1,000 instances (docs/performance.md). A 1 MB semi-space
// caps it; the price is more frequent, shorter scavenges during bursts, which a controller off the
// request path does not feel.
export const CONTROLLER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
