// SPDX-License-Identifier: Apache-2.0
#include "threatfeed/core/feed_types.h"

namespace steadfast::threatfeed {

const char* actionName(Action a) noexcept {
  switch (a) {
    case Action::FeedDefault:
      return "default";
    case Action::Nxdomain:
      return "nxdomain";
    case Action::Nodata:
      return "nodata";
    case Action::Passthru:
      return "passthru";
    case Action::Drop:
      return "drop";
    case Action::TcpOnly:
      return "tcp_only";
    case Action::LocalData:
      return "local_data";
  }
  return "?";
}

}  // namespace steadfast::threatfeed
