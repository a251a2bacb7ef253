import HubCore
import Testing

@Suite struct DurationSecondsTests {
    @Test func convertsWholeAndFractionalParts() {
        #expect(Duration.seconds(3).inSeconds == 3)
        #expect(Duration.milliseconds(1_500).inSeconds == 1.5)
        #expect(Duration.milliseconds(250).inMilliseconds == 250)
        #expect(abs(Duration.microseconds(1).inMilliseconds - 0.001) < 1e-12)
    }
}
