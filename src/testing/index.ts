/** `p2p-core/testing`: run services in-process in tests. */
export { createTestBed, TestBed } from "./test-bed.js";
export type { TestBedOptions, BedCallOptions, StubCall, StubMethod } from "./test-bed.js";
export { FakeClock } from "../util/clock.js";
export { P2PError } from "../errors.js";
