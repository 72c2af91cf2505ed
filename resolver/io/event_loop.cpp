// SPDX-License-Identifier: Apache-2.0
// Placeholder until the event loop lands.
namespace steadfast::io {}
