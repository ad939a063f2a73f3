#include "contract/vocabulary.h"

namespace nf {

std::string_view EventName(Event e) {
  switch (e) {
    case Event::kUnmap: return "unmap";
    case Event::kClear: return "clear";
    case Event::kProtectionVma: return "protection_vma";
    case Event::kProtectionPage: return "protection_page";
    case Event::kSoftDirty: return "soft_dirty";
    case Event::kRelease: return "release";
    case Event::kMigrate: return "migrate";
    case Event::kExclusive: return "exclusive";
  }
  return "?";
}

std::string_view WarningName(Warning w) {
  switch (w) {
    case Warning::kBlockableCallbackFailed: return "blockable_callback_failed";
    case Warning::kRemoveNotInserted: return "remove_not_inserted";
    case Warning::kRemoveFromCallback: return "remove_from_callback";
    case Warning::kEndWithoutStart: return "end_without_start";
    case Warning::kInsertTwice: return "insert_twice";
    case Warning::kSetSeqEven: return "set_seq_even";
    case Warning::kReleaseCallbackFailed: return "release_callback_failed";
    case Warning::kUnregisterNotRegistered: return "unregister_not_registered";
    case Warning::kBlockingInCallback: return "blocking_in_callback";
    case Warning::kRegisterTwice: return "register_twice";
    case Warning::kPutNotRegistered: return "put_not_registered";
    case Warning::kUserAfterExit: return "user_after_exit";
  }
  return "?";
}

}  // namespace nf
