"""The fake driver passes the driver conformance suite."""
from nova_console.compute.drivers import conformance
from nova_console.compute.drivers import fake


class TestFakeDriverConformance(conformance.DriverConformanceTests):

    def make_driver(self):
        return fake.FakeDriver()
